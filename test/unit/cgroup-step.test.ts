// The cgroup step alone: which limits a host can enforce, what the supervisor is told of the
// job's cgroup, and that a failed launch removes it. The driver here is a stand-in holding its
// cgroups in memory; the real drivers are exercised by test/isolation/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LaunchFailedError, LimitNotEnforceableError } from '../../src/errors.ts';
import type { ResourceLimits } from '../../src/jobs/job.ts';
import type {
  CgroupDriver,
  CgroupGroup,
  JobCgroup,
  LimitKind,
} from '../../src/launcher/cgroups/cgroup.ts';
import { CgroupStep } from '../../src/launcher/steps/cgroup-step.ts';
import { JOB_ID, launchRequest } from '../helpers/launch-request.ts';

interface Created {
  readonly jobId: string;
  readonly limits: ResourceLimits;
  readonly devices: readonly string[];
  readonly group: CgroupGroup;
}

/** A cgroup v2 driver over no hierarchy: what it was asked to create, and what is still there. */
class StandInDriver implements CgroupDriver {
  readonly version = 'v2';
  readonly enforceable: ReadonlySet<LimitKind>;
  readonly created: Created[] = [];
  readonly present = new Set<string>();
  failure: Error | undefined;

  constructor(enforceable: readonly LimitKind[]) {
    this.enforceable = new Set(enforceable);
  }

  create(
    jobId: string,
    limits: ResourceLimits,
    devices: readonly string[],
    group: CgroupGroup,
  ): Promise<JobCgroup> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    this.created.push({ jobId, limits, devices, group });
    this.present.add(jobId);
    return Promise.resolve(this.#cgroup(jobId));
  }

  open(jobId: string): JobCgroup | undefined {
    return this.present.has(jobId) ? this.#cgroup(jobId) : undefined;
  }

  #cgroup(jobId: string): JobCgroup {
    const directory = `/sys/fs/cgroup/jobworker/client-alice/${jobId}`;
    return {
      procsFiles: [`${directory}/cgroup.procs`],
      directory,
      usage: () => Promise.resolve({ cpuMs: 0, peakMemoryBytes: 0, oomKilled: false }),
      liveUsage: () => ({ cpuMs: 0, peakMemoryBytes: 0, memoryBytes: 0 }),
      remove: () => {
        this.present.delete(jobId);
        return Promise.resolve();
      },
    };
  }
}

describe('the cgroup step', () => {
  it('on a host without cgroups: no limits, no arguments, and a refusal when isolation is required', async () => {
    const step = new CgroupStep(undefined);
    assert.deepEqual(step.protections, { cgroups: 'none', enforceableLimits: [] });
    assert.throws(
      () => step.check(launchRequest({ limits: { memoryBytes: 64 * 1024 ** 2 } })),
      (error) =>
        error instanceof LimitNotEnforceableError &&
        error.message ===
          'limits.memoryBytes cannot be enforced on this host: no writable cgroup hierarchy (is the server running as root?)',
    );
    step.check(launchRequest());
    const setup = await step.prepare(launchRequest());
    assert.deepEqual(setup.args, []);
    assert.equal(setup.cgroup, undefined);
    assert.equal(
      step.missingWhenRequired(),
      'isolation is required but no writable cgroup hierarchy was found',
    );
  });

  it('refuses a limit whose controller the host lacks, naming it', () => {
    const step = new CgroupStep(new StandInDriver(['cpu', 'memory', 'pids']));
    assert.deepEqual(step.protections.enforceableLimits, ['cpu', 'memory', 'pids']);
    step.check(launchRequest({ limits: { cpus: 0.5, memoryBytes: 1024 ** 2, pids: 10 } }));
    assert.throws(
      () => step.check(launchRequest({ limits: { ioReadBytesPerSecond: 1024 } })),
      (error) =>
        error instanceof LimitNotEnforceableError &&
        error.message ===
          'limits.ioReadBytesPerSecond cannot be enforced on this host: the io controller is not available',
    );
    assert.equal(step.missingWhenRequired(), undefined);
  });

  it("creates the job's cgroup in its client's group and tells the supervisor its files", async () => {
    const driver = new StandInDriver(['memory']);
    const step = new CgroupStep(driver);
    const limits = { memoryBytes: 64 * 1024 ** 2 };
    const setup = await step.prepare(
      launchRequest({ limits, sandbox: 'private' }, { clientTotals: { memoryBytes: 1024 ** 3 } }),
    );
    const directory = `/sys/fs/cgroup/jobworker/client-alice/${JOB_ID}`;
    assert.deepEqual(setup.args, [
      '--cgroup-procs',
      `${directory}/cgroup.procs`,
      '--cgroup-dir',
      directory,
    ]);
    assert.equal(setup.cgroup?.directory, directory);
    assert.deepEqual(driver.created[0]?.limits, limits);
    assert.deepEqual(driver.created[0]?.group, {
      name: 'client-alice',
      totals: { memoryBytes: 1024 ** 3 },
    });
    assert.equal(step.reopen(JOB_ID)?.directory, directory);
    await setup.undo();
    assert.equal(step.reopen(JOB_ID), undefined);
  });

  it('says the cgroup could not be made, with why as its cause', async () => {
    const driver = new StandInDriver([]);
    driver.failure = new Error('EACCES');
    await assert.rejects(
      new CgroupStep(driver).prepare(launchRequest()),
      (error) =>
        error instanceof LaunchFailedError &&
        error.message === 'could not create the cgroup for the job' &&
        error.cause === driver.failure,
    );
  });
});
