// Times a command the way a shell user experiences it: from starting the process to its exit.
// The bench's own cost of starting a process is in every such figure alike; the round-trip
// scenario measures it (`/bin/true`) so a reader can subtract it.
import { spawn } from 'node:child_process';

export interface CommandOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The exit status that counts as success (default 0). */
  readonly expectCode?: number;
  /** Text stdout must contain, e.g. curl's `-w '%{http_code}'`. */
  readonly expectStdout?: string;
}

export interface CommandResult {
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
}

const MAX_CAPTURE = 64 * 1024;

/** Runs the command to its end; throws with its output if it did not succeed. */
export async function timeCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const started = performance.now();
  const child = spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    if (stdout.length < MAX_CAPTURE) stdout += text;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < MAX_CAPTURE) stderr += text;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  const ms = performance.now() - started;
  const expected = options.expectCode ?? 0;
  if (code !== expected || (options.expectStdout && !stdout.includes(options.expectStdout))) {
    throw new Error(
      `${file} ${args.join(' ')}: exit ${code} (expected ${expected})\n` +
        `stdout: ${stdout.slice(0, 500)}\nstderr: ${stderr.slice(0, 1000)}`,
    );
  }
  return { ms, stdout, stderr };
}
