// The job store's group commit: every caller of sync() is answered once the log is on the disk,
// callers at the same moment share syncs, and a closed store refuses rather than hangs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openDatabase } from '../../src/store/database.ts';
import { LogSync } from '../../src/store/log-sync.ts';

describe('syncing the job store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'log-sync-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers 200 callers at once, each after a sync that began after its commit', async () => {
    const path = join(dir, 'jobs.db');
    const db = openDatabase(path);
    db.exec('CREATE TABLE t (n INTEGER)');
    const log = new LogSync(path);
    const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
    const syncs: Promise<void>[] = [];
    for (let n = 0; n < 200; n += 1) {
      insert.run(n);
      syncs.push(log.sync());
      // Let some syncs start between the commits, as requests arriving over time would.
      if (n % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(syncs);
    await log.close();
    await assert.rejects(log.sync(), /closed/);
    db.close();
  });

  it('fails a sync it cannot make, and every later one, instead of claiming it was made', async () => {
    const log = new LogSync(join(dir, 'never-opened.db'));
    await assert.rejects(log.sync(), /sync the job store to disk/);
    // Even once the log exists: what the failed sync did not write may be lost for good.
    const db = openDatabase(join(dir, 'never-opened.db'));
    db.exec('CREATE TABLE t (n INTEGER)');
    await assert.rejects(log.sync(), /sync the job store to disk/);
    await log.close();
    db.close();
  });
});
