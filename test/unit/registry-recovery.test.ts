// A restart, as the registry sees it: a new registry over the same store and the same host (the
// stand-in launcher, whose jobs ran on) re-attaches to the jobs still running, records the end of
// those that ended meanwhile, marks lost those whose supervisor never started, and keeps the
// queue in its order. test/durability/restart.test.ts proves the same with a real server.
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { afterEach, describe, it } from 'node:test';
import { client, spec, startUnitRegistry, type UnitRegistry } from '../helpers/unit-registry.ts';

const alice = client('alice');

describe('the registry across a restart', () => {
  let unit: UnitRegistry;
  afterEach(() => unit.dispose());

  it('re-attaches to a running job and records the end of one that ended meanwhile', async () => {
    unit = await startUnitRegistry();
    const { launcher } = unit;
    const running = await unit.registry.start('alice', spec());
    const endsMeanwhile = await unit.registry.start('alice', spec());
    await launcher.job(running.id).write('stdout', 'before\n');
    unit = await unit.restart();
    launcher.job(endsMeanwhile.id).exit(7);

    unit = await unit.restart();
    const { registry } = unit;
    assert.equal(registry.get(alice, running.id).status, 'running');
    const ended = registry.get(alice, endsMeanwhile.id);
    assert.equal(ended.status, 'exited');
    assert.equal(ended.exitCode, 7);

    const followed = text(
      registry.output(alice, running.id, { select: 'all', offset: 0, follow: true }),
    );
    await launcher.job(running.id).write('stdout', 'after\n');
    launcher.job(running.id).exit(0);
    assert.equal(await followed, 'before\nafter\n', 'the new registry follows the job it found');
    assert.equal((await registry.whenEnded(alice, running.id)).status, 'exited');
  });

  it('queues again, in its old place, a job taken off the queue but never launched', async () => {
    unit = await startUnitRegistry({ maxUnfinishedPerOwner: 1 });
    const { launcher } = unit;
    const first = await unit.registry.start('alice', spec());
    const second = await unit.registry.start('alice', spec());
    const third = await unit.registry.start('alice', spec());
    launcher.holdLaunches = true;
    const held = launcher.nextHeldLaunch();
    launcher.job(first.id).exit(0);
    assert.equal((await held).jobId, second.id);
    assert.equal(unit.registry.get(alice, second.id).status, 'starting');

    launcher.holdLaunches = false;
    unit = await unit.crash();
    const { registry } = unit;
    await unit.reached(second.id, 'running');
    assert.equal(registry.get(alice, third.id).status, 'queued');
    launcher.job(second.id).exit(0);
    await unit.reached(third.id, 'running');
    assert.deepEqual(launcher.launchOrder, [first.id, second.id, third.id]);
  });

  it("records as lost a request's job whose supervisor never started", async () => {
    unit = await startUnitRegistry();
    unit.launcher.holdLaunches = true;
    const held = unit.launcher.nextHeldLaunch();
    // Its client never has an answer: the server dies while the job is launched.
    void unit.registry.start('alice', spec());
    const { jobId } = await held;
    unit.launcher.holdLaunches = false;
    unit = await unit.crash();
    const lost = unit.registry.get(alice, jobId);
    assert.equal(lost.status, 'lost');
    assert.equal(lost.error, 'the job supervisor never started');
    const output = unit.registry.output(alice, jobId, { select: 'all', offset: 0, follow: false });
    assert.equal(await text(output), '', 'its (empty) output is readable like any ended job');
  });

  it('keeps the queue across a restart and starts it in order as slots free', async () => {
    unit = await startUnitRegistry({ maxUnfinishedPerOwner: 1 });
    const jobs = [];
    for (let i = 0; i < 3; i += 1) jobs.push(await unit.registry.start('alice', spec()));
    unit = await unit.restart();
    const { registry, launcher } = unit;
    assert.deepEqual(
      jobs.map((job) => registry.get(alice, job.id).status),
      ['running', 'queued', 'queued'],
    );
    assert.equal(registry.get(alice, jobs[2]?.id ?? '').queuePosition, 2);
    launcher.exitCodeOnLaunch = 0;
    launcher.job(jobs[0]?.id ?? '').exit(0);
    for (const job of jobs) await registry.whenEnded(alice, job.id);
    assert.deepEqual(
      launcher.launchOrder,
      jobs.map((job) => job.id),
    );
  });

  it('stops the running jobs and waits for them when closed with the stop policy', async () => {
    unit = await startUnitRegistry();
    const job = await unit.registry.start('alice', spec());
    const launched = unit.launcher.job(job.id);
    const { store } = unit;
    await unit.registry.close('stop');
    assert.equal(launched.stopRequests, 1);
    assert.equal(launched.outcome?.reason, 'stopped');
    assert.equal(store.get(job.id)?.status, 'stopped');
    unit = await unit.restart();
  });
});
