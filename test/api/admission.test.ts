// Admission, tried as the hostile clients of issue 31 would: queued jobs that each write the
// per-job cap against a small output budget (they kept 36 MiB of an 8 MiB budget when their caps
// were fixed as they were queued), and two clients reserving the host's memory with idle jobs
// while a third waits. A queued job says why it waits (`queueReason`). Clients have names of
// their own: a client's cgroup is the host's, shared with other test files' servers.
import assert, { fail } from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jobctlFor } from '../cli/jobctl-process.ts';
import { runCerts } from '../helpers/certs-script.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

const MIB = 1024 * 1024;

/** Issues a user certificate for each name on the server's CA. */
async function issueUsers(server: TestServer, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const issued = await runCerts(server.certsDir, ['client', name, '--role', 'user']);
    assert.equal(issued.code, 0, issued.stderr);
  }
}

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

async function current(server: TestServer, client: string, job: Job): Promise<Job> {
  return (await server.request(client, 'GET', `/v1/jobs/${job.id}`)).json<Job>();
}

async function stopAndWait(server: TestServer, client: string, job: Job): Promise<Job> {
  await server.request(client, 'POST', `/v1/jobs/${job.id}/stop`);
  return server.waitForEnd(client, job.id);
}

/** Bytes the job's output files take in the data directory (log and index). */
async function bytesOnDisk(server: TestServer, job: Job): Promise<number> {
  const dir = join(server.dataDir, 'jobs', job.id);
  const sizes = await Promise.all(
    ['output.log', 'output.idx'].map(async (file) => (await stat(join(dir, file))).size),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

describe('an output budget checked when a job launches', () => {
  let server: TestServer;
  const writer = `writer-${randomUUID().slice(0, 8)}`;
  before(async () => {
    server = await startServer({
      env: { CLIENT_OUTPUT: '8MiB', MAX_OUTPUT: '4MiB', CLIENT_MAX_RUNNING: '2' },
    });
    await issueUsers(server, [writer]);
  });
  after(() => server.dispose());

  it('keeps at most the budget when ten queued jobs each write the per-job cap', async () => {
    // Two idle jobs hold the running slots (and, at their caps, the whole budget) while the
    // ten are queued; they write nothing.
    const holders = await submitAll(server, writer, [
      { command: 'sleep', args: ['60'] },
      { command: 'sleep', args: ['60'] },
    ]);
    assert.deepEqual(
      holders.map((job) => job.outputCapBytes),
      [4 * MIB, 4 * MIB],
    );
    const writers = await submitAll(
      server,
      writer,
      Array.from({ length: 10 }, () => ({
        command: 'head',
        args: ['-c', String(4 * MIB), '/dev/zero'],
      })),
    );
    assert.ok(writers.every((job) => job.status === 'queued'));
    assert.equal(writers[0]?.queueReason?.code, 'running-cap');
    assert.match(String(writers[0]?.queueReason?.message), new RegExp(`${writer} runs 2 jobs`));
    assert.equal(writers[1]?.queueReason?.code, 'behind-own-queue');
    const { jobctl, dispose } = await jobctlFor(server, writer);
    try {
      const inspected = await jobctl.run('inspect', writers[0]?.id ?? '');
      assert.equal(inspected.code, 0, inspected.stderr);
      assert.equal((JSON.parse(inspected.stdout) as Job).queueReason?.code, 'running-cap');
    } finally {
      await dispose();
    }

    for (const holder of holders) await stopAndWait(server, writer, holder);
    const ended = await Promise.all(writers.map((job) => server.waitForEnd(writer, job.id)));

    const kept = ended.reduce((sum, job) => sum + job.outputBytes, 0);
    const onDisk = (await Promise.all(writers.map((job) => bytesOnDisk(server, job)))).reduce(
      (sum, bytes) => sum + bytes,
      0,
    );
    // Two of them ran, each keeping its 4 MiB cap (its output and its index, 4 bytes a chunk).
    assert.ok(onDisk <= 8 * MIB, `${onDisk} bytes on disk`);
    assert.ok(kept > 8 * MIB - 64 * 1024, `${kept} bytes of output kept`);
    assert.deepEqual(
      ended.map((job) => job.status).sort(),
      [...Array<string>(2).fill('exited'), ...Array<string>(8).fill('failed')].sort(),
    );
    for (const job of ended.filter((each) => each.status === 'failed')) {
      assert.equal(job.startedAt, null);
      assert.match(String(job.error), /output budget \(8 MiB\) is spent/);
    }

    // A new job is refused at once, naming the budget and what to do.
    const refused = await server.request(writer, 'POST', '/v1/jobs', {
      json: { command: 'true' },
    });
    assert.equal(refused.status, 507, refused.text());
    const problem = refused.json<{ code: string; detail: string }>();
    assert.equal(problem.code, 'OUTPUT_BUDGET_SPENT');
    assert.match(problem.detail, /output budget \(8 MiB\) is spent.*delete/);

    // Deleting the jobs that keep it gives the budget back.
    for (const job of ended.filter((each) => each.status === 'exited')) {
      assert.equal((await server.request(writer, 'DELETE', `/v1/jobs/${job.id}`)).status, 204);
    }
    const next = await server.startJob(writer, { command: 'true' });
    assert.equal(next.outputCapBytes, 4 * MIB);
    assert.equal((await server.waitForEnd(writer, next.id)).status, 'exited');
  });
});

describe('admission between clients on a host that gives jobs 256 MiB', () => {
  let server: TestServer;
  const run = randomUUID().slice(0, 8);
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((name) => `${name}-${run}`) as [
    string,
    string,
    string,
  ];
  before(async () => {
    // All jobs together get the server's least, 256 MiB; each client's jobs 128 MiB together.
    const reserve = `${Math.floor(totalmem() / MIB) - 200}MiB`;
    server = await startServer({ env: { HOST_RESERVE_MEMORY: reserve, CLIENT_MEMORY: '128MiB' } });
    await issueUsers(server, [alice, bob, carol]);
  });
  after(() => server.dispose());

  it("holds a client's jobs past its memory total, and a client at its fair share behind another's", async () => {
    const idle = (memory: string): Record<string, unknown> => ({
      command: 'sleep',
      args: ['60'],
      limits: { memory },
    });
    const alices = await submitAll(server, alice, [
      ...Array.from({ length: 4 }, () => idle('32MiB')),
      { command: 'true', limits: { memory: '32MiB' } },
    ]);
    const bobs = await submitAll(server, bob, [idle('64MiB'), idle('64MiB')]);
    const running = [...alices.slice(0, 4), ...bobs];
    try {
      // Her fifth job would take her past the 128 MiB her cgroup holds all of her jobs to.
      const fifth = alices[4]!;
      assert.deepEqual(
        alices.map((job) => job.status),
        ['running', 'running', 'running', 'running', 'queued'],
      );
      assert.equal(fifth.queueReason?.code, 'client-memory');
      assert.match(String(fifth.queueReason?.message), /128 MiB/);
      assert.ok(bobs.every((job) => job.status === 'running'));

      // alice and bob hold the host; carol waits for memory.
      const [carols = fail('no job')] = await submitAll(server, carol, [
        { command: 'echo', args: ['hi'], limits: { memory: '64MiB' } },
      ]);
      assert.equal(carols.status, 'queued');
      assert.equal(carols.queueReason?.code, 'host-memory');

      // alice has room in her own total again, but holds more than a third of the host (three
      // clients want it) while carol waits: she starts nothing, though 32 MiB are free.
      await stopAndWait(server, alice, alices[0]!);
      const fair = await current(server, alice, fifth);
      assert.equal(fair.status, 'queued');
      assert.equal(fair.queueReason?.code, 'fair-share');
      assert.equal((await current(server, carol, carols)).queueReason?.code, 'host-memory');

      // Memory frees: carol's job starts, then alice's.
      await stopAndWait(server, bob, bobs[0]!);
      const carolEnded = await server.waitForEnd(carol, carols.id);
      assert.equal(carolEnded.status, 'exited');
      assert.equal(
        (await server.request(carol, 'GET', `/v1/jobs/${carolEnded.id}/output`)).text(),
        'hi\n',
      );
      const fifthEnded = await server.waitForEnd(alice, fifth.id);
      assert.equal(fifthEnded.status, 'exited');
      assert.ok(
        Date.parse(carolEnded.startedAt ?? '') <= Date.parse(fifthEnded.startedAt ?? ''),
        "carol's job started before alice's",
      );
    } finally {
      for (const job of running) await stopAndWait(server, job.owner, job);
    }
  });
});
