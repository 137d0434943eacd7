// "stderr": "merged" gives a job one pipe for stdout and stderr, so a reader sees them in the
// order the job wrote them (issue 36): two pipes read by one supervisor cannot keep that order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

const ALTERNATIONS = 500;
const ALTERNATING = {
  command: 'sh',
  args: ['-c', `for i in $(seq ${ALTERNATIONS}); do echo out$i; echo err$i >&2; done`],
};

function alternation(): string {
  let lines = '';
  for (let i = 1; i <= ALTERNATIONS; i += 1) lines += `out${i}\nerr${i}\n`;
  return lines;
}

describe('"stderr": "merged"', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('keeps the exact alternation of 1,000 lines written to stdout and stderr', async () => {
    const started = await server.startJob('alice', { ...ALTERNATING, stderr: 'merged' });
    assert.equal(started.stderr, 'merged');
    const job = await server.waitForEnd('alice', started.id);
    assert.equal(job.status, 'exited', JSON.stringify(job));
    assert.equal(job.stderr, 'merged');
    const all = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    assert.equal(all.text(), alternation());
    const stdout = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output?stream=stdout`);
    assert.equal(stdout.text(), alternation(), 'everything is the stdout stream');
    const stderr = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output?stream=stderr`);
    assert.equal(stderr.text(), '');
  });

  it('is separate by default, both streams kept whole', async () => {
    const started = await server.startJob('alice', ALTERNATING);
    assert.equal(started.stderr, 'separate');
    const job = await server.waitForEnd('alice', started.id);
    const stderr = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output?stream=stderr`);
    assert.equal(stderr.text().split('\n').length - 1, ALTERNATIONS);
  });
});
