// What the launcher needs from a cgroup hierarchy, whichever version the host runs. The v1 and
// v2 drivers implement it; `detectCgroups` picks the one this host has.
import type { ResourceLimits } from '../../worker/job.ts';

export type LimitKind = 'cpu' | 'memory' | 'pids' | 'io';

export interface CgroupUsage {
  readonly cpuMs: number;
  readonly peakMemoryBytes: number;
  readonly oomKilled: boolean;
}

export interface JobCgroup {
  /** `cgroup.procs` files the job's first process must be written into before it runs. */
  readonly procsFiles: readonly string[];
  usage(): Promise<CgroupUsage>;
  /** Removes the cgroup; its processes must already be gone. */
  remove(): Promise<void>;
}

export interface CgroupDriver {
  readonly version: 'v1' | 'v2';
  /** The limits this host can enforce. */
  readonly enforceable: ReadonlySet<LimitKind>;
  create(jobId: string, limits: ResourceLimits, ioDevices: readonly string[]): Promise<JobCgroup>;
  /** The cgroup of a job created before a restart, if it still exists. */
  open(jobId: string): JobCgroup | undefined;
}

/** The name of the subtree, under each hierarchy's root, that holds one cgroup per job. */
export const SUBTREE = 'jobworker';

export const CPU_PERIOD_MICROS = 100_000;
