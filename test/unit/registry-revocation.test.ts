// What the registry does by itself, without a client asking: the jobs of a revoked client
// certificate end (queued ones never start, running ones stop, or run on under `leave`), and
// retention deletes jobs that ended long enough ago. Through the stand-in launcher, in
// milliseconds; test/certs/revocation-ends-jobs.test.ts proves revocation over the wire.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { RevokedJobEvent } from '../../src/worker/registry.ts';
import { client, spec, startUnitRegistry, type UnitRegistry } from '../helpers/unit-registry.ts';

const alice = client('alice');
const HOUR_MS = 60 * 60 * 1000;

describe('the registry and revoked certificates', () => {
  let unit: UnitRegistry;
  afterEach(() => unit.dispose());

  it('never starts the queued jobs of a revoked certificate and stops its running ones', async () => {
    const revoked = new Set<string>();
    const events: RevokedJobEvent[] = [];
    unit = await startUnitRegistry({
      maxUnfinishedPerOwner: 1,
      revokedSerials: () => revoked,
      onRevokedJob: (event) => events.push(event),
    });
    const { registry, launcher } = unit;
    const running = await registry.start('alice', spec(), undefined, { clientSerial: 'ab01' });
    const queued = await registry.start('alice', spec(), undefined, { clientSerial: 'ab01' });
    const othersQueued = await registry.start('alice', spec(), undefined, { clientSerial: 'cd02' });
    revoked.add('ab01');
    await registry.endJobsOfRevoked(revoked);

    const neverStarted = registry.get(alice, queued.id);
    assert.equal(neverStarted.status, 'stopped');
    assert.equal(
      neverStarted.error,
      'its client certificate (serial ab01) was revoked; it never started',
    );
    assert.equal(launcher.job(running.id).stopRequests, 1);
    const stopped = await registry.whenEnded(alice, running.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.error, 'its client certificate (serial ab01) was revoked');
    assert.deepEqual(
      events.map((event) => [event.job.id, event.outcome]),
      [
        [queued.id, 'never started'],
        [running.id, 'stopped'],
      ],
    );
    // Another certificate's job takes the slot; none of the revoked one's was launched after.
    await unit.reached(othersQueued.id, 'running');
    assert.deepEqual(launcher.launchOrder, [running.id, othersQueued.id]);
    await assert.rejects(registry.start('alice', spec(), undefined, { clientSerial: 'ab01' }), {
      name: 'CertificateRevokedError',
      code: 'FORBIDDEN',
    });
  });

  it('leaves running jobs running under the leave policy, and says so once', async () => {
    const revoked = new Set(['ab01']);
    const events: RevokedJobEvent[] = [];
    unit = await startUnitRegistry({
      onRevoke: 'leave',
      onRevokedJob: (event) => events.push(event),
    });
    const { registry } = unit;
    const job = await registry.start('alice', spec(), undefined, { clientSerial: 'ab01' });
    await registry.endJobsOfRevoked(revoked);
    await registry.endJobsOfRevoked(new Set([...revoked, 'ef03']));
    assert.equal(registry.get(alice, job.id).status, 'running');
    assert.deepEqual(
      events.map((event) => [event.job.id, event.outcome]),
      [[job.id, 'left running']],
    );
  });
});

describe("the registry's retention", () => {
  let unit: UnitRegistry;
  afterEach(() => unit.dispose());

  it('deletes the jobs that ended longer ago than the retention, with their output', async () => {
    unit = await startUnitRegistry({ retentionMs: HOUR_MS });
    const { registry, launcher } = unit;
    const old = await registry.start('alice', spec());
    const recent = await registry.start('alice', spec());
    const running = await registry.start('alice', spec());
    launcher.job(old.id).exit(0, new Date(Date.now() - 2 * HOUR_MS));
    launcher.job(recent.id).exit(0);
    await registry.whenEnded(alice, old.id);
    await registry.whenEnded(alice, recent.id);

    registry.startRetention();
    assert.throws(() => registry.get(alice, old.id), { code: 'JOB_NOT_FOUND' });
    assert.equal(registry.get(alice, recent.id).status, 'exited');
    assert.equal(registry.get(alice, running.id).status, 'running');
    // Closing waits for the sweep under way, directories included.
    await registry.close('leave-running');
    await assert.rejects(access(join(unit.dataDir, 'jobs', old.id)), { code: 'ENOENT' });
    await access(join(unit.dataDir, 'jobs', recent.id));
  });
});
