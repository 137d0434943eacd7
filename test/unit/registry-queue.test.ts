// The registry's admission and durable queue alone, through the stand-in launcher: what waits,
// in which order it starts as slots free, and what is refused with which code. test/api/queue.test.ts
// and admission.test.ts prove the same with real jobs over the wire, in tens of seconds.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Job } from '../../src/jobs/job.ts';
import { client, spec, startUnitRegistry, type UnitRegistry } from '../helpers/unit-registry.ts';

const MIB = 1024 ** 2;
const alice = client('alice');

async function startAll(unit: UnitRegistry, owner: string, count: number, memoryBytes?: number) {
  const jobs: Job[] = [];
  const limits = memoryBytes === undefined ? {} : { memoryBytes };
  for (let i = 0; i < count; i += 1) jobs.push(await unit.registry.start(owner, spec({ limits })));
  return jobs;
}

describe("the registry's queue, at a client's running cap", () => {
  let unit: UnitRegistry;
  afterEach(() => unit.dispose());

  it('queues past the cap and starts the queued jobs in order as slots free', async () => {
    unit = await startUnitRegistry({ maxUnfinishedPerOwner: 2, maxQueuedPerOwner: 6 });
    const { registry, launcher } = unit;
    const jobs = await startAll(unit, 'alice', 5);
    assert.deepEqual(
      jobs.map((job) => [job.status, job.queuePosition, job.queueReason?.code ?? null]),
      [
        ['running', null, null],
        ['running', null, null],
        ['queued', 1, 'running-cap'],
        ['queued', 2, 'behind-own-queue'],
        ['queued', 3, 'behind-own-queue'],
      ],
    );
    assert.equal(registry.capacity().queued, 3);
    assert.equal(registry.countByStatus().get('queued'), 3);
    for (const [index, job] of jobs.entries()) {
      launcher.job(job.id).exit(0);
      const next = jobs[index + 2];
      if (next !== undefined) await unit.reached(next.id, 'running');
      await registry.whenEnded(alice, job.id);
    }
    assert.deepEqual(
      launcher.launchOrder,
      jobs.map((job) => job.id),
      'launched in the order they came',
    );
    assert.deepEqual(
      unit.dequeued.map((event) => [event.job.id, event.outcome]),
      jobs.slice(2).map((job) => [job.id, 'started']),
    );
  });

  it('refuses with TOO_MANY_JOBS when asked not to wait, and QUEUE_FULL past the queue', async () => {
    unit = await startUnitRegistry({ maxUnfinishedPerOwner: 1, maxQueuedPerOwner: 2 });
    const { registry } = unit;
    await startAll(unit, 'alice', 3);
    await assert.rejects(registry.start('alice', spec(), { totals: {} }, { queue: false }), {
      code: 'TOO_MANY_JOBS',
    });
    await assert.rejects(registry.start('alice', spec()), { code: 'QUEUE_FULL' });
    const bobs = await registry.start('bob', spec());
    assert.equal(bobs.status, 'running', "alice's cap and queue are hers alone");
  });

  it('stops a queued job without ever launching it', async () => {
    unit = await startUnitRegistry({ maxUnfinishedPerOwner: 1 });
    const { registry, launcher } = unit;
    const [running, queued] = await startAll(unit, 'alice', 2);
    const stopped = await registry.stop(alice, queued?.id ?? '');
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.error, 'stopped while queued; it never started');
    launcher.job(running?.id ?? '').exit(0);
    await registry.whenEnded(alice, running?.id ?? '');
    assert.deepEqual(launcher.launchOrder, [running?.id]);
  });

  it('ends a job that waits past its queue timeout, saying it never started', async () => {
    unit = await startUnitRegistry({ maxUnfinishedPerOwner: 1 });
    const { registry } = unit;
    await startAll(unit, 'alice', 1);
    const queued = await registry.start('alice', spec({ queueTimeoutMs: 1 }));
    const ended = await registry.whenEnded(alice, queued.id);
    assert.equal(ended.status, 'stopped');
    assert.match(
      ended.error ?? '',
      /waited longer than its queue timeout \(0s\); it never started/,
    );
    assert.deepEqual(
      unit.dequeued.map((event) => [event.job.id, event.outcome]),
      [[queued.id, 'timed out']],
    );
  });
});

describe("the registry's admission by memory", () => {
  let unit: UnitRegistry;
  afterEach(() => unit.dispose());

  it("queues what does not fit the host, and starts another client between one client's jobs", async () => {
    unit = await startUnitRegistry({ capacityBytes: 256 * MIB });
    const { registry, launcher } = unit;
    const alices = await startAll(unit, 'alice', 5, 100 * MIB);
    assert.deepEqual(
      alices.map((job) => job.status),
      ['running', 'running', 'queued', 'queued', 'queued'],
    );
    assert.equal(alices[2]?.queueReason?.code, 'host-memory');
    const [bobs] = await startAll(unit, 'bob', 1, 100 * MIB);
    assert.equal(bobs?.status, 'queued');
    assert.deepEqual(registry.capacity(), {
      memoryBytes: 256 * MIB,
      reservedMemoryBytes: 200 * MIB,
      queued: 4,
    });
    // From now on each job ends as soon as it is launched: the queue drains two at a time.
    launcher.exitCodeOnLaunch = 0;
    for (const job of alices.slice(0, 2)) launcher.job(job.id).exit(0);
    const all = [...alices, ...(bobs === undefined ? [] : [bobs])];
    await Promise.all(all.map((job) => registry.whenEnded(client(job.owner), job.id)));
    const order = launcher.launchOrder;
    const bobAt = order.indexOf(bobs?.id ?? '');
    assert.ok(
      bobAt < order.indexOf(alices[3]?.id ?? '') && bobAt < order.indexOf(alices[4]?.id ?? ''),
      `bob's one job did not wait for alice's queue to drain: ${bobAt}`,
    );
  });

  it('refuses a job that could never fit: LIMIT_EXCEEDS_CAPACITY', async () => {
    unit = await startUnitRegistry({ capacityBytes: 256 * MIB });
    await assert.rejects(
      unit.registry.start('alice', spec({ limits: { memoryBytes: 1024 * MIB } })),
      {
        code: 'LIMIT_EXCEEDS_CAPACITY',
        message: /1024 MiB.*256 MiB/,
      },
    );
  });

  it("holds a client's jobs past its memory total, not another client's", async () => {
    unit = await startUnitRegistry({ capacityBytes: 1024 * MIB });
    const budget = { totals: { memoryBytes: 150 * MIB } };
    const heavy = spec({ limits: { memoryBytes: 100 * MIB } });
    const alices = [];
    for (let i = 0; i < 3; i += 1) alices.push(await unit.registry.start('alice', heavy, budget));
    assert.deepEqual(
      alices.map((job) => [job.status, job.queueReason?.code ?? null]),
      [
        ['running', null],
        ['queued', 'client-memory'],
        ['queued', 'behind-own-queue'],
      ],
    );
    const bobs = await unit.registry.start('bob', heavy, budget);
    assert.equal(bobs.status, 'running', "alice's jobs do not hold bob back");
  });

  it('refuses a job that asked not to wait for the host (429 TOO_MANY_JOBS)', async () => {
    unit = await startUnitRegistry({ capacityBytes: 256 * MIB });
    await startAll(unit, 'alice', 2, 100 * MIB);
    const heavy = spec({ limits: { memoryBytes: 100 * MIB } });
    await assert.rejects(unit.registry.start('bob', heavy, { totals: {} }, { queue: false }), {
      code: 'TOO_MANY_JOBS',
      message: /the host has not the 100 MiB of memory this job reserves free right now/,
    });
  });
});
