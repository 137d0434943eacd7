// The registry alone: a job's way from start to end, its stop, its output and its input, driven
// through the stand-in launcher over a real store. No process is started, so these run in
// milliseconds and without root; the black-box suites (test/api/) prove the same over the wire.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LimitNotEnforceableError } from '../../src/errors.ts';
import { client, spec, startUnitRegistry, type UnitRegistry } from '../helpers/unit-registry.ts';

const SRC = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'src');
const alice = client('alice');
const bob = client('bob');

describe('the registry, alone', () => {
  let unit: UnitRegistry;
  beforeEach(async () => {
    unit = await startUnitRegistry();
  });
  afterEach(() => unit.dispose());

  it('starts a job through its launcher and records how it ended', async () => {
    const { registry, launcher } = unit;
    const job = await registry.start('alice', spec({ command: 'make', args: ['all'] }));
    assert.equal(job.status, 'running');
    assert.ok(job.startedAt !== null);
    const launched = launcher.job(job.id);
    assert.equal(launched.request.spec.command, 'make');
    assert.deepEqual(launched.request.spec.args, ['all']);
    assert.equal(launched.request.owner, 'alice');

    launched.exit(3);
    const ended = await registry.whenEnded(alice, job.id);
    assert.equal(ended.status, 'exited');
    assert.equal(ended.exitCode, 3);
    assert.ok(ended.endedAt !== null);
  });

  it('reads what the job wrote, following it until it ends', async () => {
    const { registry, launcher } = unit;
    const job = await registry.start('alice', spec());
    const followed = text(
      registry.output(alice, job.id, { select: 'all', offset: 0, follow: true }),
    );
    const launched = launcher.job(job.id);
    await launched.write('stdout', 'hello ');
    await launched.write('stderr', 'oops ');
    await launched.write('stdout', 'world\n');
    assert.equal(registry.get(alice, job.id).outputBytes, 17, 'the live size, while it runs');
    launched.exit(0);
    assert.equal(await followed, 'hello oops world\n');
    const stderr = registry.output(alice, job.id, { select: 'stderr', offset: 0, follow: false });
    assert.equal(await text(stderr), 'oops ');
    assert.deepEqual(await registry.outputSizes(alice, job.id), { all: 17, stdout: 12, stderr: 5 });
  });

  it('stops a running job: stopping, then stopped; twice is JOB_ALREADY_ENDED', async () => {
    const { registry, launcher } = unit;
    const job = await registry.start('alice', spec());
    const launched = launcher.job(job.id);
    launched.obeysStop = false;
    const stopping = await registry.stop(alice, job.id);
    assert.equal(stopping.status, 'stopping');
    assert.ok(stopping.stopRequestedAt !== null);
    assert.equal(launched.stopRequests, 1);
    launched.kill('SIGTERM');
    const stopped = await registry.whenEnded(alice, job.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.signal, 'SIGTERM');
    await assert.rejects(registry.stop(alice, job.id), { code: 'JOB_ALREADY_ENDED' });
  });

  it("shows a client only its own jobs: another's is JOB_NOT_FOUND", async () => {
    const { registry } = unit;
    const job = await registry.start('alice', spec());
    assert.throws(() => registry.get(bob, job.id), { code: 'JOB_NOT_FOUND' });
    await assert.rejects(registry.stop(bob, job.id), { code: 'JOB_NOT_FOUND' });
    assert.equal(registry.get({ name: 'admin', seesAll: true }, job.id).id, job.id);
    const page = registry.list(bob, {}, { limit: 10 });
    assert.deepEqual(registry.listed(bob, page.positions), []);
  });

  it("throws a launcher's refusal back to the request and keeps no record of the job", async () => {
    const { registry, launcher } = unit;
    launcher.refuseNext(new LimitNotEnforceableError('limits.io', 'no io controller'));
    await assert.rejects(registry.start('alice', spec()), { code: 'LIMIT_NOT_ENFORCEABLE' });
    const page = registry.list(alice, {}, { limit: 10 });
    assert.deepEqual(registry.listed(alice, page.positions), []);
    assert.equal(launcher.launchOrder.length, 0);
  });

  it('deletes an ended job and its output, and refuses to delete a running one', async () => {
    const { registry, launcher } = unit;
    const job = await registry.start('alice', spec());
    await assert.rejects(registry.remove(alice, job.id), { code: 'JOB_STILL_RUNNING' });
    launcher.job(job.id).exit(0);
    await registry.whenEnded(alice, job.id);
    await registry.remove(alice, job.id);
    assert.throws(() => registry.get(alice, job.id), { code: 'JOB_NOT_FOUND' });
    await assert.rejects(registry.assertOutputReadable(job.id), { code: 'OUTPUT_UNAVAILABLE' });
  });
});

describe("the registry's job inputs", () => {
  let unit: UnitRegistry;
  beforeEach(async () => {
    unit = await startUnitRegistry({ maxUnfinishedPerOwner: 1 });
  });
  afterEach(() => unit.dispose());

  it('refuses input to a job started without stdin: INPUT_NOT_OPEN', async () => {
    const job = await unit.registry.start('alice', spec());
    await assert.rejects(unit.registry.openInput(alice, job.id), { code: 'INPUT_NOT_OPEN' });
  });

  it('takes one writer at a time, and none once the input was ended', async () => {
    const { registry, launcher } = unit;
    const job = await registry.start('alice', spec({ stdin: true }));
    const input = await registry.openInput(alice, job.id);
    await assert.rejects(registry.openInput(alice, job.id), { code: 'INPUT_BUSY' });
    input.stream.write('line one\n');
    await input.end();
    assert.equal(Buffer.concat(launcher.job(job.id).input).toString(), 'line one\n');
    await assert.rejects(registry.openInput(alice, job.id), { code: 'INPUT_CLOSED' });
  });

  it("lets a queued job's writer wait until the job is launched", async () => {
    const { registry, launcher } = unit;
    const first = await registry.start('alice', spec());
    const queued = await registry.start('alice', spec({ stdin: true }));
    assert.equal(queued.status, 'queued');
    const opening = registry.openInput(alice, queued.id);
    launcher.job(first.id).exit(0);
    const input = await opening;
    assert.equal(registry.get(alice, queued.id).status, 'running');
    input.stream.write('late\n');
    await input.end();
    assert.equal(Buffer.concat(launcher.job(queued.id).input).toString(), 'late\n');
  });

  it('tells a waiting writer its queued job ended unstarted', async () => {
    const { registry } = unit;
    await registry.start('alice', spec());
    const queued = await registry.start('alice', spec({ stdin: true }));
    const opening = registry.openInput(alice, queued.id);
    await registry.stop(alice, queued.id);
    await assert.rejects(opening, { code: 'JOB_ALREADY_ENDED' });
  });
});

describe("the registry's one seam to launching", () => {
  it('imports nothing of launcher/ but the Launcher interface, so a stand-in can take its place', () => {
    const worker = join(SRC, 'worker');
    const launcher = join(SRC, 'launcher');
    const wrong = readdirSync(worker)
      .filter((name) => name.endsWith('.ts'))
      .flatMap((name) => {
        const file = join(worker, name);
        const specifiers = readFileSync(file, 'utf8').matchAll(/from\s+'(\.{1,2}\/[^']+)'/g);
        return [...specifiers]
          .map((match) => resolve(dirname(file), match[1] ?? ''))
          .filter(
            (target) => target.startsWith(launcher) && target !== join(launcher, 'launcher.ts'),
          )
          .map((target) => `worker/${name} -> ${relative(SRC, target)}`);
      });
    assert.deepEqual(wrong, []);
  });
});
