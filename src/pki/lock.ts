// An exclusive lock on a certs directory, so two certs commands (say a cron job refreshing the
// CRL and an operator revoking a client) never interleave their reads and writes of the inventory.
import { open, readFile, rename, rm } from 'node:fs/promises';
import { PkiError } from './errors.ts';

export async function withLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  await acquire(path);
  try {
    return await work();
  } finally {
    await release(path);
  }
}

async function acquire(path: string): Promise<void> {
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error;
    }
    // A holder that has not written its pid yet counts as alive.
    const holder = await holderOf(path);
    if (!(holder > 0) || isAlive(holder)) {
      throw new PkiError(
        'PKI_BUSY',
        `another certs command (${holder > 0 ? `pid ${holder}` : path}) is changing this PKI; ` +
          'try again when it is done',
      );
    }
    // A lock left by a command that crashed is taken over. Renaming it away is atomic: of two
    // commands taking over at once, one rename fails, and neither deletes a live lock.
    const stale = `${path}.stale.${process.pid}`;
    try {
      await rename(path, stale);
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
      continue;
    }
    if ((await holderOf(stale)) !== holder) {
      // Someone took it over and locked it between our read and our rename: give it back.
      await rename(stale, path).catch(() => undefined);
      continue;
    }
    await rm(stale, { force: true });
  }
}

/** Removes the lock only if it is still ours. */
async function release(path: string): Promise<void> {
  if ((await holderOf(path)) === process.pid) await rm(path, { force: true });
}

async function holderOf(path: string): Promise<number> {
  return Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}
