// What the launcher needs from a cgroup hierarchy, whichever version the host runs. The v1 and
// v2 drivers implement it; `detectCgroups` picks the one this host has.
import { createHash } from 'node:crypto';
import { CLIENT_NAME_PATTERN } from '../../pki/names.ts';
import type { LimitKind, ResourceLimits } from '../../jobs/job.ts';

export type { LimitKind };

export interface CgroupUsage {
  readonly cpuMs: number;
  readonly peakMemoryBytes: number;
  readonly oomKilled: boolean;
}

/** What a running job uses now: its CPU so far, its peak and the memory it holds this moment. */
export interface LiveUsage {
  readonly cpuMs: number;
  readonly peakMemoryBytes: number;
  readonly memoryBytes: number;
}

export interface JobCgroup {
  /** `cgroup.procs` files the job's first process must be written into before it runs. */
  readonly procsFiles: readonly string[];
  /**
   * cgroup v2: the job's cgroup directory. The supervisor creates the job's first process in it
   * (clone3 with CLONE_INTO_CGROUP, no migration), kills it with cgroup.kill, and roots the job's
   * cgroup namespace there. Undefined on v1.
   */
  readonly directory: string | undefined;
  usage(): Promise<CgroupUsage>;
  /** Read at once from the kernel's counters (see readControlNow), while the job runs. */
  liveUsage(): LiveUsage;
  /** Removes the cgroup; its processes must already be gone. */
  remove(): Promise<void>;
}

/**
 * A client's parent cgroup (`jobworker/<group>/<job>`): every running job of one client is held
 * by its totals together, and the kernel shares CPU between clients before it shares it between
 * one client's jobs.
 */
export interface CgroupGroup {
  /** A directory name: `client-` and the client's name (see `groupNameOf`). */
  readonly name: string;
  readonly totals: ResourceLimits;
}

export interface CgroupDriver {
  readonly version: 'v1' | 'v2';
  /** The limits this host can enforce. */
  readonly enforceable: ReadonlySet<LimitKind>;
  create(
    jobId: string,
    limits: ResourceLimits,
    ioDevices: readonly string[],
    group: CgroupGroup,
  ): Promise<JobCgroup>;
  /** The cgroup of a job created before a restart, if it still exists. */
  open(jobId: string): JobCgroup | undefined;
}

/** The name of the subtree, under each hierarchy's root, that holds one cgroup per client. */
export const SUBTREE = 'jobworker';

const GROUP_PREFIX = 'client-';

/**
 * The cgroup directory of a client. Names the project's CA issues are safe as they are; any
 * other certificate name (another tool may have issued it) is hashed, so it cannot name a path.
 */
export function groupNameOf(client: string): string {
  if (CLIENT_NAME_PATTERN.test(client)) return `${GROUP_PREFIX}${client}`;
  return `${GROUP_PREFIX}x${createHash('sha256').update(client).digest('hex').slice(0, 32)}`;
}

export function isGroupName(name: string): boolean {
  return name.startsWith(GROUP_PREFIX);
}

/**
 * A group's cgroup is made and its totals written once per server process (totals change only
 * with the configuration). Jobs of a client started at the same moment all wait for the same
 * set-up, so none is created in a group that is not ready; a set-up that failed is tried again.
 */
export class GroupSetUp {
  readonly #done = new Map<string, { readonly key: string; readonly ready: Promise<void> }>();

  ensure(group: CgroupGroup, setUp: () => Promise<void>): Promise<void> {
    const key = JSON.stringify(group.totals);
    const known = this.#done.get(group.name);
    if (known?.key === key) return known.ready;
    const ready = setUp().catch((error: unknown) => {
      this.#done.delete(group.name);
      throw error;
    });
    this.#done.set(group.name, { key, ready });
    return ready;
  }
}

export const CPU_PERIOD_MICROS = 100_000;
