// The environment a job asked for, kept in its directory from the moment it is accepted until
// its supervisor has read it. A queued job may start after a restart, so its variables cannot
// live in memory only; the job record keeps their names alone, as values may be secrets. The
// file is the server's (0600 in a 0700 directory), like the file jobshim reads at launch, and is
// deleted once the job has been launched or has ended unstarted.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JOB_FILE_NAMES } from '../jobs/job-directory.ts';

const FILE = JOB_FILE_NAMES.pendingEnvironment;

export async function keepEnvironment(
  dir: string,
  env: Readonly<Record<string, string>>,
): Promise<void> {
  if (Object.keys(env).length === 0) return;
  await writeFile(join(dir, FILE), JSON.stringify(env), { mode: 0o600 });
}

/** The kept environment; undefined when the job had variables and the file is gone. */
export async function keptEnvironment(
  dir: string,
  names: readonly string[],
): Promise<Record<string, string> | undefined> {
  if (names.length === 0) return {};
  try {
    return JSON.parse(await readFile(join(dir, FILE), 'utf8')) as Record<string, string>;
  } catch {
    return undefined;
  }
}

/** Deletes the kept environment; a job without variables never had one to delete. */
export async function forgetEnvironment(dir: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await rm(join(dir, FILE), { force: true });
}
