// The floor of free space the server keeps on its data disk (--min-free-disk), on a 64 MiB tmpfs
// with a floor of 32 MiB: a job writing 100 MiB has its output stopped with the floor still free
// (it used to fill the disk under the server), no job is recorded while the disk is below the
// floor (507, naming the floor and what is free), and a queued job whose turn comes meanwhile
// waits in its place and runs once space returns.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

const MIB = 1024 ** 2;
const FLOOR = 32 * MIB;
/** What recording a job's end may take of the floor, at most. */
const END_RECORDS_BYTES = 128 * 1024;

function freeBytes(path: string): number {
  const disk = statfsSync(path);
  return disk.bavail * disk.bsize;
}

describe('a floor of free space on the data disk', () => {
  let baseDir: string;
  let dataDir: string;
  let mounted = false;
  let server: TestServer;

  before(async () => {
    baseDir = mkdtempSync(join(tmpdir(), 'jobworker-diskfloor-'));
    dataDir = join(baseDir, 'data');
    mkdirSync(dataDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', dataDir]);
    mounted = true;
    // One job of alice's runs at a time, so her second waits in the queue.
    server = await startServer({
      baseDir,
      env: { MIN_FREE_DISK: '32MiB', CLIENT_MAX_RUNNING: '1' },
    });
  });

  after(async () => {
    await server?.stop();
    if (mounted) {
      try {
        execFileSync('umount', [dataDir]);
      } catch {
        execFileSync('umount', ['-l', dataDir]);
      }
    }
    rmSync(baseDir, { recursive: true, force: true });
  });

  it('stops recording a job that writes 100 MiB with the floor still free', async (t) => {
    const started = await server.startJob('alice', {
      command: 'head',
      args: ['-c', String(100 * MIB), '/dev/zero'],
    });
    const job = await server.waitForEnd('alice', started.id);
    const free = freeBytes(dataDir);
    const log = statSync(join(dataDir, 'jobs', job.id, 'output.log')).size;
    t.diagnostic(`recorded ${log} bytes; ${free} bytes free after the job's end`);
    assert.equal(job.status, 'exited', 'the job itself runs on to its end');
    assert.equal(job.exitCode, 0);
    assert.equal(job.outputTruncated, true);
    assert.equal(job.outputBytes, log);
    assert.match(job.error ?? '', /free.*floor of 32\.0 MiB/);
    // Output stopped with the floor free; the records of the job's end (status.json, the
    // database's commit, the audit record) then come out of it, as the floor is there for.
    assert.ok(free >= FLOOR - END_RECORDS_BYTES, `${free} bytes free, below the floor`);
    // Recorded up to the floor, not stopped at the first write: the rest of the disk is used.
    assert.ok(log > 20 * MIB, `only ${log} bytes recorded`);
    // Its output goes, and with it what it held of the disk.
    assert.equal((await server.request('alice', 'DELETE', `/v1/jobs/${job.id}`)).status, 204);
  });

  it('records no job below the floor and says why, then waits with the queue', async () => {
    const holder = await server.startJob('alice', { command: 'sleep', args: ['60'] });
    const waiting = await server.startJob('alice', { command: 'echo', args: ['queued'] });
    assert.equal(waiting.status, 'queued');

    // Down to 16 MiB free, by another writer than a job.
    const filler = join(dataDir, 'filler');
    writeFileSync(filler, Buffer.alloc(freeBytes(dataDir) - 16 * MIB));
    for (const client of ['alice', 'bob']) {
      const refused = await server.request(client, 'POST', '/v1/jobs', {
        json: { command: 'echo', args: ['below the floor'] },
      });
      assert.equal(refused.status, 507, refused.text());
      const problem = refused.json<{ code: string; detail: string }>();
      assert.equal(problem.code, 'INSUFFICIENT_STORAGE');
      assert.match(problem.detail, /has 1\d(\.\d)? MiB free, less than the 32 MiB it keeps free/);
    }
    const listed = await server.request('bob', 'GET', '/v1/jobs');
    assert.equal(listed.status, 200, 'reads are served below the floor');

    // The waiting job's turn comes while the disk is below the floor: it keeps its place.
    const since = server.logs.length;
    await server.request('alice', 'POST', `/v1/jobs/${holder.id}/stop`);
    await server.waitForEnd('alice', holder.id);
    await server.waitForLog(
      (entry) => /queued jobs wait: the data disk/.test(String(entry.msg)),
      since,
    );
    const held = (await server.request('alice', 'GET', `/v1/jobs/${waiting.id}`)).json<Job>();
    assert.equal(held.status, 'queued');

    // Space returns: it runs, within the queue's next look at the disk.
    rmSync(filler);
    const ran = await server.waitForEnd('alice', waiting.id);
    assert.equal(ran.status, 'exited');
    const output = await server.request('alice', 'GET', `/v1/jobs/${waiting.id}/output`);
    assert.equal(output.text(), 'queued\n');
    await server.startJob('bob', { command: 'true' });
  });
});
