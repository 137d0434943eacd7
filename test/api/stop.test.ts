// Stop reaches the job's whole process tree, including processes that left its process group.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

/** Host processes whose command line is exactly `command`. */
function processesWith(command: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (cmdline === command) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

describe('stop', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('kills a grandchild that called setsid', async () => {
    const marker = `${Math.floor(100000 + Math.random() * 800000)}`;
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', `setsid sleep ${marker} & echo started; sleep ${marker}`],
    });
    // Wait until the job has said it started its children, by following its output.
    await server.waitForOutput('alice', job.id);
    assert.equal(processesWith(`sleep ${marker}`).length, 2);
    const stop = await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    assert.equal(stop.status, 202);
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.status, 'stopped');
    assert.deepEqual(processesWith(`sleep ${marker}`), []);
  });

  it('kills with SIGKILL a job that ignores SIGTERM, after the grace period', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'trap "" TERM; echo ready; while true; do sleep 1; done'],
    });
    await server.waitForOutput('alice', job.id);
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.status, 'stopped');
    assert.equal(ended.signal, 'SIGKILL');
  });

  it('does not hold up other requests while a stop waits for its grace period', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'trap "" TERM; echo ready; sleep 600'],
    });
    await server.waitForOutput('alice', job.id);
    const stopAt = Date.now();
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    const health = await server.request('bob', 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.ok(
      Date.now() - stopAt < 1500,
      'stop and the next request returned before the grace period',
    );
    await server.waitForEnd('alice', job.id);
  });
});
