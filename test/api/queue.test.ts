// Too many heavy jobs: a job that cannot start now is accepted as `queued` and starts by itself
// when it can, oldest first within a client and round-robin between clients; the queue is in
// the store and survives a SIGKILL of the server; a queued job can be stopped, can time out, and
// is followed like any job. Limits here are small on purpose: two running jobs per client, or a
// host that gives all jobs together 256 MiB.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/store/database.ts';
import { JobStore } from '../../src/store/job-store.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';
import { jobctlFor } from '../cli/jobctl-process.ts';

const MIB = 1024 * 1024;

/** Starts each job in turn (so their order is known) and returns their records as answered. */
async function submitAll(
  server: TestServer,
  client: string,
  specs: readonly Record<string, unknown>[],
): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const spec of specs) {
    const response = await server.request(client, 'POST', '/v1/jobs', { json: spec });
    assert.equal(response.status, 201, response.text());
    jobs.push(response.json<Job>());
  }
  return jobs;
}

/** `count` jobs of `sleep SECONDS`, to hold a client's slots. */
function sleepers(count: number, seconds: number): Record<string, unknown>[] {
  return Array.from({ length: count }, () => ({ command: 'sleep', args: [String(seconds)] }));
}

/** Stops the jobs (those that have ended already answer 409, which is fine) and waits for them. */
async function stopAll(server: TestServer, client: string, jobs: readonly Job[]): Promise<void> {
  for (const job of jobs) await server.request(client, 'POST', `/v1/jobs/${job.id}/stop`);
  await endOfAll(server, client, jobs);
}

async function endOfAll(server: TestServer, client: string, jobs: readonly Job[]): Promise<Job[]> {
  return Promise.all(jobs.map((job) => server.waitForEnd(client, job.id)));
}

/** The most jobs that ran at the same time, from their recorded start and end times. */
function mostAtOnce(jobs: readonly Job[]): number {
  const edges = jobs.flatMap((job) => [
    { at: Date.parse(job.startedAt ?? ''), step: 1 },
    { at: Date.parse(job.endedAt ?? ''), step: -1 },
  ]);
  // An end and a start at the same millisecond: the end first (the slot was free).
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let running = 0;
  let most = 0;
  for (const edge of edges) {
    running += edge.step;
    most = Math.max(most, running);
  }
  return most;
}

describe('a client at its running-job cap', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { CLIENT_MAX_RUNNING: '2', CLIENT_MAX_QUEUED: '6' } });
  });
  after(() => server.dispose());

  it('queues its jobs and runs them two at a time, in the order they came', async () => {
    const jobs = await submitAll(server, 'alice', sleepers(5, 1));
    assert.deepEqual(
      jobs.map((job) => job.status),
      ['running', 'running', 'queued', 'queued', 'queued'],
    );
    assert.deepEqual(
      jobs.map((job) => job.queuePosition),
      [null, null, 1, 2, 3],
    );
    const listed = await server.request('alice', 'GET', '/v1/jobs?status=queued');
    assert.equal(listed.json<{ jobs: Job[] }>().jobs.length, 3);
    const metrics = (await server.request('admin', 'GET', '/metrics')).text();
    assert.match(metrics, /^jobworker_jobs\{status="queued"\} 3$/m);
    assert.match(metrics, /^jobworker_job_wait_seconds_count \d+$/m);

    const ended = await endOfAll(server, 'alice', jobs);
    assert.ok(ended.every((job) => job.status === 'exited' && job.exitCode === 0));
    assert.equal(mostAtOnce(ended), 2);
    const starts = ended.map((job) => Date.parse(job.startedAt ?? ''));
    assert.deepEqual(
      starts,
      [...starts].sort((a, b) => a - b),
      'started in the order they were submitted',
    );
    assert.ok(ended.every((job) => job.queuePosition === null));
  });

  it('answers 429 instead with ?queue=false, and QUEUE_FULL past its queue', async () => {
    const running = await submitAll(server, 'bob', sleepers(2, 30));
    try {
      const refused = await server.request('bob', 'POST', '/v1/jobs?queue=false', {
        json: { command: 'true' },
      });
      assert.equal(refused.status, 429);
      assert.equal(refused.json().code, 'TOO_MANY_JOBS');
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      const queued = await submitAll(
        server,
        'bob',
        Array.from({ length: 6 }, () => ({ command: 'true' })),
      );
      const full = await server.request('bob', 'POST', '/v1/jobs', { json: { command: 'true' } });
      assert.equal(full.status, 429);
      assert.equal(full.json().code, 'QUEUE_FULL');
      for (const job of queued) {
        const stopped = await server.request('bob', 'POST', `/v1/jobs/${job.id}/stop`);
        assert.equal(stopped.status, 202);
      }
    } finally {
      await stopAll(server, 'bob', running);
    }
  });

  it('stops a queued job without ever running it; another client cannot see it', async () => {
    const running = await submitAll(server, 'alice', sleepers(2, 30));
    try {
      const [queued] = await submitAll(server, 'alice', [
        { command: 'sh', args: ['-c', 'echo it ran'] },
      ]);
      assert.equal(queued?.status, 'queued');
      const id = queued?.id ?? '';
      assert.equal((await server.request('bob', 'GET', `/v1/jobs/${id}`)).status, 404);
      assert.equal((await server.request('bob', 'POST', `/v1/jobs/${id}/stop`)).status, 404);
      const stopped = await server.request('alice', 'POST', `/v1/jobs/${id}/stop`);
      assert.equal(stopped.status, 202);
      const record = stopped.json<Job>();
      assert.equal(record.status, 'stopped');
      assert.equal(record.startedAt, null);
      assert.match(String(record.error), /never started/);
      // A slot frees: the stopped job still never runs.
      await server.request('alice', 'POST', `/v1/jobs/${running[0]?.id ?? ''}/stop`);
      await server.waitForEnd('alice', running[0]?.id ?? '');
      const after = (await server.request('alice', 'GET', `/v1/jobs/${id}`)).json<Job>();
      assert.equal(after.status, 'stopped');
      assert.equal(after.startedAt, null);
      const output = await server.request('alice', 'GET', `/v1/jobs/${id}/output`);
      assert.equal(output.text(), '');
    } finally {
      await stopAll(server, 'alice', running);
    }
  });

  it('ends a job that waits longer than its queueTimeout, saying it never started', async () => {
    const running = await submitAll(server, 'alice', sleepers(2, 30));
    try {
      const [waiting] = await submitAll(server, 'alice', [
        { command: 'true', queueTimeout: '500ms' },
      ]);
      assert.equal(waiting?.queueTimeoutMs, 500);
      const ended = await server.waitForEnd('alice', waiting?.id ?? '');
      assert.equal(ended.status, 'stopped');
      assert.equal(ended.startedAt, null);
      assert.match(String(ended.error), /queue timeout.*never started/);
      const audit = await server.request('auditor', 'GET', `/v1/audit?job=${ended.id}`);
      const actions = audit.json<{ records: { action: string }[] }>().records.map((r) => r.action);
      assert.ok(actions.includes('job.queue_timeout'), actions.join());
    } finally {
      await stopAll(server, 'alice', running);
    }
  });

  it('lets a follower of a queued job read it from its first byte once it runs', async () => {
    const running = await submitAll(server, 'alice', sleepers(2, 1));
    const followed = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'sh', args: ['-c', 'echo first; echo second'] },
    });
    assert.equal(followed.status, 201);
    // Said with the headers, which come at once: the output may be a long wait away.
    assert.equal(followed.headers['job-queue-position'], '1');
    assert.equal(followed.text(), 'first\nsecond\n');
    assert.equal(followed.trailers['job-status'], 'exited');
    const id = String(followed.headers['job-id']);
    const job = (await server.request('alice', 'GET', `/v1/jobs/${id}`)).json<Job>();
    const lastEnd = Math.min(
      ...(await endOfAll(server, 'alice', running)).map((r) => Date.parse(r.endedAt ?? '')),
    );
    assert.ok(Date.parse(job.startedAt ?? '') >= lastEnd, 'it waited for a slot');
    const audit = await server.request('auditor', 'GET', `/v1/audit?job=${id}`);
    const records = audit.json<{
      records: { action: string; details: Record<string, unknown> }[];
    }>().records;
    assert.equal(records.find((r) => r.action === 'job.start')?.details.startedAs, 'queued');
    assert.ok(records.some((r) => r.action === 'job.dequeue'));
  });

  it('says "queued (position N: why)" on stderr from jobctl run, and exits with the job', async () => {
    const running = await submitAll(server, 'alice', sleepers(2, 1));
    const { jobctl, dispose } = await jobctlFor(server);
    try {
      const result = await jobctl.run('run', '-f', '--', 'sh', '-c', 'echo done; exit 3');
      assert.equal(result.code, 3, result.stderr);
      assert.equal(result.stdout, 'done\n');
      // Its place, and why it waits (the job's queueReason), in jobctl's words.
      assert.match(
        result.stderr,
        /^jobctl: queued \(position 1: alice runs 2 jobs, the most one client may run at once\)$/m,
      );
      const refused = await jobctl.run('run', '--no-queue', '--', 'true');
      assert.equal(refused.code, 0, 'the slots were free again');
    } finally {
      await dispose();
      await endOfAll(server, 'alice', running);
    }
  });
});

describe('a host without the memory for every job', () => {
  let server: TestServer;
  before(async () => {
    // All jobs together get the server's least, 256 MiB: two jobs of 100 MiB at a time.
    const reserve = `${Math.floor(totalmem() / MIB) - 200}MiB`;
    server = await startServer({ env: { HOST_RESERVE_MEMORY: reserve } });
  });
  after(() => server.dispose());

  it("queues what does not fit, and starts another client between one client's jobs", async () => {
    const heavy = { command: 'sleep', args: ['1'], limits: { memory: '100M' } };
    const alices = await submitAll(server, 'alice', [heavy, heavy, heavy, heavy, heavy]);
    assert.deepEqual(
      alices.map((job) => job.status),
      ['running', 'running', 'queued', 'queued', 'queued'],
    );
    const [bobs] = await submitAll(server, 'bob', [heavy]);
    assert.equal(bobs?.status, 'queued');
    const health = await server.request('admin', 'GET', '/healthz');
    const capacity = health.json<{ capacity: Record<string, number> }>().capacity;
    assert.equal(capacity.memoryBytes, 256 * MIB);
    assert.equal(capacity.reservedMemoryBytes, 2 * 100 * MIB);
    assert.equal(capacity.queued, 4);
    const userHealth = await server.request('alice', 'GET', '/healthz');
    assert.equal(userHealth.json().capacity, undefined, "users do not see the host's load");

    const ended = await endOfAll(server, 'alice', alices);
    const bobEnded = await server.waitForEnd('bob', bobs?.id ?? '');
    assert.ok([...ended, bobEnded].every((job) => job.status === 'exited'));
    assert.equal(mostAtOnce([...ended, bobEnded]), 2);
    const bobStart = Date.parse(bobEnded.startedAt ?? '');
    const laterAlices = ended.slice(3).map((job) => Date.parse(job.startedAt ?? ''));
    assert.ok(
      laterAlices.every((start) => bobStart <= start),
      "bob's one job did not wait for alice's queue to drain",
    );
  });

  it('refuses a job that could never fit, saying why', async () => {
    const response = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', limits: { memory: '1G' } },
    });
    assert.equal(response.status, 400);
    const problem = response.json<{ code: string; detail: string }>();
    assert.equal(problem.code, 'LIMIT_EXCEEDS_CAPACITY');
    assert.match(problem.detail, /1024 MiB.*256 MiB/);
  });
});

describe("a client's own memory total", () => {
  let server: TestServer;
  before(async () => {
    // All jobs together get 256 MiB; alice's cgroup holds her jobs to 150 MiB together.
    const reserve = `${Math.floor(totalmem() / MIB) - 200}MiB`;
    server = await startServer({ env: { HOST_RESERVE_MEMORY: reserve, CLIENT_MEMORY: '150MiB' } });
  });
  after(() => server.dispose());

  it('holds her jobs beyond it in the queue, so she cannot hold the host for everyone', async () => {
    const heavy = { command: 'sleep', args: ['30'], limits: { memory: '100M' } };
    // 300 MiB of limits, and her cgroup gives all of her jobs 150 MiB: together they would run
    // toward one OOM kill, so one runs and the others wait.
    const alices = await submitAll(server, 'alice', [heavy, heavy, heavy]);
    try {
      assert.deepEqual(
        alices.map((job) => job.status),
        ['running', 'queued', 'queued'],
      );
      assert.deepEqual(
        alices.map((job) => job.queueReason?.code ?? null),
        [null, 'client-memory', 'behind-own-queue'],
      );
      const health = await server.request('admin', 'GET', '/healthz');
      const capacity = health.json<{ capacity: Record<string, number> }>().capacity;
      assert.equal(capacity.reservedMemoryBytes, 100 * MIB);
      const [bobs] = await submitAll(server, 'bob', [heavy]);
      assert.equal(bobs?.status, 'running', "alice's jobs do not hold bob back");
      const [bobsSecond] = await submitAll(server, 'bob', [heavy]);
      assert.equal(bobsSecond?.status, 'queued', '200 MiB would pass his 150 MiB too');
      for (const job of [bobs, bobsSecond]) {
        await server.request('bob', 'POST', `/v1/jobs/${job?.id ?? ''}/stop`);
      }
    } finally {
      await stopAll(server, 'alice', alices);
    }
  });
});

describe('the queue across a SIGKILL of the server', () => {
  it('runs every queued job once after a restart, in order, and requeues one never launched', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'jobworker-queue-'));
    const env = { CLIENT_MAX_RUNNING: '1', SHUTDOWN_POLICY: 'leave-running' };
    let server = await startServer({ baseDir, env });
    const [blocker, ...queued] = await submitAll(server, 'alice', [
      { command: 'sleep', args: ['2'] },
      ...['one', 'two', 'three'].map((word) => ({
        command: 'sh',
        args: ['-c', `echo ${word} ran at $(date +%s%N)`],
        env: { WORD: word },
      })),
    ]);
    assert.deepEqual(
      queued.map((job) => job.status),
      ['queued', 'queued', 'queued'],
    );
    await server.stop('SIGKILL');

    // As if the server had died between taking a job off the queue and spawning its supervisor.
    const db = openDatabase(join(baseDir, 'data', 'jobworker.db'));
    const store = new JobStore(db);
    store.update(queued[0]?.id ?? '', { status: 'starting' });
    db.close();

    server = await startServer({ baseDir, env });
    try {
      const ended = await endOfAll(server, 'alice', [blocker!, ...queued]);
      assert.ok(
        ended.every((job) => job.status === 'exited'),
        JSON.stringify(ended),
      );
      for (const [index, job] of queued.entries()) {
        const output = (await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`)).text();
        assert.equal(output.split('\n').length - 1, 1, `job ${index} ran once: ${output}`);
        assert.match(output, new RegExp(`^${['one', 'two', 'three'][index]} ran`));
      }
      const starts = ended.slice(1).map((job) => Date.parse(job.startedAt ?? ''));
      assert.deepEqual(
        starts,
        [...starts].sort((a, b) => a - b),
      );
      assert.equal(mostAtOnce(ended), 1);
    } finally {
      await server.dispose();
    }
  });
});
