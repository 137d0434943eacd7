// What the launcher needs from a cgroup hierarchy, whichever version the host runs. The v1 and
// v2 drivers implement it; `detectCgroups` picks the one this host has.
import { createHash } from 'node:crypto';
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
const SAFE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * The cgroup directory of a client. Names the project's CA issues are safe as they are; any
 * other certificate name (another tool may have issued it) is hashed, so it cannot name a path.
 */
export function groupNameOf(client: string): string {
  if (SAFE_NAME.test(client)) return `${GROUP_PREFIX}${client}`;
  return `${GROUP_PREFIX}x${createHash('sha256').update(client).digest('hex').slice(0, 32)}`;
}

export function isGroupName(name: string): boolean {
  return name.startsWith(GROUP_PREFIX);
}

/** Limits written once per group and process: a group's totals change only with the config. */
export class GroupLimitsWritten {
  readonly #written = new Map<string, string>();

  /** True the first time these totals are seen for this group (and after they change). */
  needsWrite(group: CgroupGroup): boolean {
    const key = JSON.stringify(group.totals);
    if (this.#written.get(group.name) === key) return false;
    this.#written.set(group.name, key);
    return true;
  }

  forget(group: CgroupGroup): void {
    this.#written.delete(group.name);
  }
}

export const CPU_PERIOD_MICROS = 100_000;
