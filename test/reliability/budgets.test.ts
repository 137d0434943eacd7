// The output budgets hold against a client that writes a little at a time (issue 31, finding
// 14): the output's index (4 bytes a piece of output) counts against the per-job cap and the
// client's output budget. One-byte writes made an index as large as the log, outside both.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

const KIB = 1024;

/** A job writing `bytes` bytes one write(2) at a time. */
function byteAtATime(bytes: number): Record<string, unknown> {
  return {
    command: 'dd',
    args: ['if=/dev/zero', 'bs=1', `count=${bytes}`, 'status=none'],
  };
}

function outputFiles(server: TestServer, id: string): { log: number; index: number } {
  const dir = join(server.dataDir, 'jobs', id);
  return {
    log: statSync(join(dir, 'output.log')).size,
    // The records kept beside the output: its index, and since issue 36 its times.
    index: statSync(join(dir, 'output.idx')).size + statSync(join(dir, 'output.times')).size,
  };
}

describe("the output index counts against the cap and the client's budget", () => {
  const budget = 256 * KIB;
  let server: TestServer;

  before(async () => {
    // The per-job cap is the whole budget, so a job's cap is what its client has left of it;
    // one job at a time, so nothing else is held back for other running slots.
    server = await startServer({
      env: { MAX_OUTPUT: '256KiB', CLIENT_OUTPUT: '256KiB', CLIENT_MAX_RUNNING: '1' },
    });
  });

  after(async () => {
    await server.dispose();
  });

  it('records the index beside the output, and the next job has what is left of both', async (t) => {
    const first = await server.waitForEnd(
      'alice',
      (await server.startJob('alice', byteAtATime(20_000))).id,
    );
    const files = outputFiles(server, first.id);
    t.diagnostic(`20,000 bytes written one at a time: ${files.index} bytes of index`);
    assert.equal(first.outputTruncated, false);
    assert.equal(first.outputBytes, 20_000);
    assert.equal(first.outputBytes, files.log);
    assert.ok(files.index > 0);
    assert.equal(first.usage?.outputIndexBytes, files.index);

    const second = await server.startJob('alice', { command: 'true' });
    assert.equal(second.outputCapBytes, budget - files.log - files.index);
    await server.waitForEnd('alice', second.id);
  });

  it('stops recording when the output and its index reach the cap', async (t) => {
    const started = await server.startJob('alice', byteAtATime(300_000));
    const cap = started.outputCapBytes;
    assert.ok(cap !== null && cap > 128 * KIB, `a cap of ${cap}`);
    const job = await server.waitForEnd('alice', started.id);
    const files = outputFiles(server, job.id);
    t.diagnostic(
      `cap ${cap}: ${files.log} bytes of output and ${files.index} of index ` +
        `(${(files.index / files.log).toFixed(2)} bytes of index a byte)`,
    );
    assert.equal(job.outputTruncated, true);
    assert.ok(files.log + files.index <= cap, `${files.log} + ${files.index} > ${cap}`);
    // Stopped at the cap, not short of it: the piece that did not fit was kept in part (short by
    // at most its index record and a time record).
    assert.ok(files.log + files.index >= cap - 20, `${files.log} + ${files.index} < ${cap} - 20`);
    assert.equal(job.outputBytes, files.log);
    assert.equal(job.usage?.outputIndexBytes, files.index);
    const output = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    assert.equal(output.body.length, files.log);
  });
});
