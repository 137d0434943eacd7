// Runs `scripts/certs.ts` as operators do (`npm run certs -- ...` runs exactly this file), and
// snapshots a certs directory so a test can prove a refused command wrote nothing.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inheritedEnv, ROOT } from './server.ts';

export interface ScriptResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCerts(
  certsDir: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<ScriptResult> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts', 'certs.ts'), '--certs-dir', certsDir, ...args],
      { cwd: ROOT, env: { ...inheritedEnv(), ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

/** Every file under `dir` with the sha256 of its contents. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  }
  return files;
}
