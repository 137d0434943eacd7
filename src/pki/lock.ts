// An exclusive lock on a certs directory, so two certs commands (say a cron job refreshing the
// CRL and an operator revoking a client) never interleave their reads and writes of the inventory.

import { open, readFile, rm } from 'node:fs/promises';
import { PkiError } from './errors.ts';

export async function withLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  await acquire(path);
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}

async function acquire(path: string): Promise<void> {
  try {
    const handle = await open(path, 'wx', 0o600);
    await handle.writeFile(`${process.pid}\n`);
    await handle.close();
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
    // A lock left by a command that crashed is taken over; a live holder is reported.
    // A holder that has not written its pid yet counts as alive.
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (!(holder > 0) || isAlive(holder)) {
      throw new PkiError(
        'PKI_BUSY',
        `another certs command (${holder > 0 ? `pid ${holder}` : path}) is changing this PKI; ` +
          'try again when it is done',
      );
    }
    await rm(path, { force: true });
    await acquire(path);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
}
