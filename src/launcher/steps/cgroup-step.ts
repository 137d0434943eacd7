// The cgroup step: the job's own cgroup under its client's, holding the limits it asked for.
// The supervisor is told the cgroup's files, so the job's first process is born in it (or moved
// there before it may run) and a stop can kill every member. The cgroup outlives the launch: the
// job's handle reads its usage and removes it once the job has ended.
import { LaunchFailedError, LimitNotEnforceableError } from '../../errors.ts';
import type { ResourceLimits } from '../../jobs/job.ts';
import type { Protections } from '../../jobs/protections.ts';
import { blockDevicesOf } from '../block-devices.ts';
import {
  groupNameOf,
  type CgroupDriver,
  type JobCgroup,
  type LimitKind,
} from '../cgroups/cgroup.ts';
import type { LaunchRequest } from '../launcher.ts';
import type { LaunchStep, StepSetup } from './launch-step.ts';

/** The cgroup step's setup: the cgroup the job's handle keeps once the job runs. */
export interface CgroupSetup extends StepSetup {
  /** Undefined on a host without a writable cgroup hierarchy. */
  readonly cgroup: JobCgroup | undefined;
}

const LIMIT_FIELDS: Readonly<Record<keyof ResourceLimits, LimitKind>> = {
  cpus: 'cpu',
  memoryBytes: 'memory',
  pids: 'pids',
  ioReadBytesPerSecond: 'io',
  ioWriteBytesPerSecond: 'io',
};

export class CgroupStep implements LaunchStep {
  readonly protections: Pick<Protections, 'cgroups' | 'enforceableLimits'>;
  readonly #driver: CgroupDriver | undefined;

  /** `driver` undefined: the host has no writable cgroup hierarchy, and jobs get no limits. */
  constructor(driver: CgroupDriver | undefined) {
    this.#driver = driver;
    this.protections = {
      cgroups: driver?.version ?? 'none',
      enforceableLimits: [...(driver?.enforceable ?? [])],
    };
  }

  check(request: LaunchRequest): void {
    const { limits } = request.spec;
    const enforceable = this.#driver?.enforceable ?? new Set<LimitKind>();
    for (const field of Object.keys(limits) as (keyof ResourceLimits)[]) {
      if (limits[field] === undefined || enforceable.has(LIMIT_FIELDS[field])) continue;
      throw new LimitNotEnforceableError(
        `limits.${field}`,
        this.#driver === undefined
          ? 'no writable cgroup hierarchy (is the server running as root?)'
          : `the ${LIMIT_FIELDS[field]} controller is not available`,
      );
    }
  }

  async prepare(request: LaunchRequest): Promise<CgroupSetup> {
    const cgroup = await this.#create(request);
    const args: string[] = [];
    for (const procs of cgroup?.procsFiles ?? []) args.push('--cgroup-procs', procs);
    if (cgroup?.directory !== undefined) args.push('--cgroup-dir', cgroup.directory);
    return {
      args,
      cgroup,
      undo: async () => {
        await cgroup?.remove().catch(() => undefined);
      },
    };
  }

  /** The cgroup of a job launched before, found again after a restart of the server. */
  reopen(jobId: string): JobCgroup | undefined {
    return this.#driver?.open(jobId);
  }

  missingWhenRequired(): string | undefined {
    return this.#driver === undefined
      ? 'isolation is required but no writable cgroup hierarchy was found'
      : undefined;
  }

  async #create(request: LaunchRequest): Promise<JobCgroup | undefined> {
    if (this.#driver === undefined) return undefined;
    // A sandboxed job writes to memory (tmpfs); only a host job's cwd is a path on a disk.
    const devices = blockDevicesOf(
      request.spec.sandbox === 'host' ? ['/', request.spec.cwd] : ['/'],
    );
    try {
      return await this.#driver.create(request.jobId, request.spec.limits, devices, {
        name: groupNameOf(request.owner),
        totals: request.clientTotals,
      });
    } catch (error) {
      throw new LaunchFailedError('could not create the cgroup for the job', error);
    }
  }
}
