// The certs directory lock: one command at a time, a crashed command's lock taken over, and a
// lock that is not ours never removed.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withLock } from '../../src/pki/lock.ts';
import { makeTempDir } from './helpers.ts';

describe('withLock', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let lock: string;
  before(async () => {
    dir = await makeTempDir();
    lock = join(dir.path, '.lock');
  });
  after(() => dir.remove());

  it('refuses while a live process holds the lock, naming it', async () => {
    await writeFile(lock, `${process.ppid}\n`);
    await assert.rejects(
      withLock(lock, () => Promise.resolve()),
      (error: Error & { code?: string }) =>
        error.code === 'PKI_BUSY' && error.message.includes(`pid ${process.ppid}`),
    );
    assert.equal(await readFile(lock, 'utf8'), `${process.ppid}\n`, 'the live lock is untouched');
  });

  it("takes over a crashed command's lock, and removes its own when done", async () => {
    // The pid of a process that has certainly exited: one that just ran and was reaped.
    const dead = spawnSync('true').pid;
    await writeFile(lock, `${dead}\n`);
    const held = await withLock(lock, () => readFile(lock, 'utf8'));
    assert.equal(held, `${process.pid}\n`);
    await assert.rejects(readFile(lock), { code: 'ENOENT' });
  });

  it('does not remove a lock that another command took meanwhile', async () => {
    await withLock(lock, async () => {
      await writeFile(lock, `${process.ppid}\n`);
    });
    assert.equal(await readFile(lock, 'utf8'), `${process.ppid}\n`);
  });
});
