// A running job's usage is live (issue 36): its CPU so far, its peak and the memory it holds now,
// read from its cgroup whenever its record is asked for; `usage` was null until the job ended.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

describe('usage while a job runs', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('has the CPU used so far and the memory held now, then none once ended', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'x=$(head -c 20000000 /dev/zero | tr "\\0" a); echo ready; sleep 5'],
    });
    await server.waitForOutput('alice', job.id);
    const running = (await server.request('alice', 'GET', `/v1/jobs/${job.id}`)).json<Job>();
    assert.equal(running.status, 'running');
    assert.ok(running.usage !== null, 'usage while it runs');
    assert.ok(running.usage.cpuMs > 0, JSON.stringify(running.usage));
    assert.ok((running.usage.memoryBytes ?? 0) > 20_000_000, JSON.stringify(running.usage));
    assert.ok(running.usage.peakMemoryBytes >= (running.usage.memoryBytes ?? 0));
    const listed = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>();
    assert.ok((listed.jobs[0]?.usage?.memoryBytes ?? 0) > 0, 'listings carry it too');
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.usage?.memoryBytes, null);
    assert.ok((ended.usage?.peakMemoryBytes ?? 0) > 20_000_000);
  });
});
