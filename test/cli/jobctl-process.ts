// Runs the real jobctl (`bin/jobctl.js`, what the `jobctl` command runs) as a child process, the way a user does, with
// an environment of the test's choosing: by default pointed at a test server as alice, with a
// config file of its own so no test ever reads or writes the user's. Every jobctl (and every shell
// line around one) runs in a process group of its own, and whatever of them is still running
// when the test file's tests are done (a test that timed out, an assertion that failed first) is
// killed with its whole group: nothing a test started outlives it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { ROOT, type TestServer } from '../helpers/server.ts';

export const JOBCTL = join(ROOT, 'bin', 'jobctl.js');

/** Process groups started here that have not exited yet. */
const LIVE_GROUPS = new Set<number>();

function killGroups(): void {
  for (const pid of LIVE_GROUPS) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  LIVE_GROUPS.clear();
}

// After every test of the file, and on any way out of its process: a runner that gives up on the
// file (its timeout) ends it with SIGTERM, which runs no after hook and no 'exit' listener.
after(killGroups);
process.once('exit', killGroups);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killGroups();
    // Then die of it, as the process would have without this listener.
    process.kill(process.pid, signal);
  });
}

/** spawn(), in a process group of its own that is killed when the file's tests are done. */
export function spawnGrouped(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  const pid = child.pid;
  if (pid !== undefined) {
    LIVE_GROUPS.add(pid);
    child.once('exit', () => LIVE_GROUPS.delete(pid));
  }
  return child;
}

/** A shell line run as spawnGrouped runs it; resolves with its output, rejects on failure. */
export function shellGrouped(
  line: string,
  options: { env: Readonly<Record<string, string>>; cwd: string },
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const child = spawnGrouped('sh', ['-c', line], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code: number | null) => {
      if (code === 0) resolve({ stdout, stderr, code });
      else reject(new Error(`'${line}' exited ${code}: ${stderr}`));
    });
  });
}

export interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A jobctl that is still running: its output so far, and ways to wait for more. */
export class RunningJobctl {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Result>;

  constructor(child: ChildProcess) {
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = once(child, 'close').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
      stdout: this.stdout,
      stderr: this.stderr,
    }));
  }

  /** Resolves once stdout matches, or rejects if jobctl exits first. */
  waitForStdout(pattern: RegExp): Promise<void> {
    return this.#waitFor('stdout', pattern);
  }

  waitForStderr(pattern: RegExp): Promise<void> {
    return this.#waitFor('stderr', pattern);
  }

  #waitFor(name: 'stdout' | 'stderr', pattern: RegExp): Promise<void> {
    const stream = this.child[name];
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(this[name])) return;
        stream?.off('data', check);
        resolve();
      };
      stream?.on('data', check);
      check();
      void this.exited.then((result) =>
        reject(new Error(`jobctl exited (${result.code}) before ${name} matched ${pattern}`)),
      );
    });
  }
}

export class Jobctl {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;

  constructor(env: Readonly<Record<string, string>>, cwd: string) {
    this.env = env;
    this.cwd = cwd;
  }

  /** The same jobctl with some variables changed (undefined removes one). */
  with(changes: Readonly<Record<string, string | undefined>>, cwd = this.cwd): Jobctl {
    const env: Record<string, string> = { ...this.env };
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    return new Jobctl(env, cwd);
  }

  spawn(...args: string[]): RunningJobctl {
    return new RunningJobctl(
      spawnGrouped(process.execPath, [JOBCTL, ...args], {
        cwd: this.cwd,
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  }

  run(...args: string[]): Promise<Result> {
    return this.spawn(...args).exited;
  }
}

/** A jobctl pointed at `server` as `client`, with a temporary home and config file. */
export async function jobctlFor(
  server: TestServer,
  client = 'alice',
): Promise<{ jobctl: Jobctl; home: string; dispose: () => Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), 'jobctl-test-'));
  const jobctl = new Jobctl(
    {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      JOBCTL_CONFIG: join(home, 'config.json'),
      JOBCTL_SERVER: `https://localhost:${server.port}`,
      JOBCTL_CERTS_DIR: server.certsDir,
      JOBCTL_CLIENT: client,
    },
    home,
  );
  return { jobctl, home, dispose: () => rm(home, { recursive: true, force: true }) };
}

/** jobctl's failures are one line on stderr, never a stack trace. */
export function oneLine(result: Result): string {
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  if (lines.length !== 1 || /^\s+at /m.test(result.stderr)) {
    throw new Error(`expected one line on stderr, got:\n${result.stderr}`);
  }
  return lines[0] ?? '';
}
