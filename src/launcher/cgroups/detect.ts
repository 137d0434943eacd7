// Picks the cgroup driver for this host: the unified v2 hierarchy when it is mounted at the root
// with controllers, otherwise the v1 per-controller hierarchies (the hybrid layout keeps an empty
// v2 under `unified`, which we ignore because no controller lives there).
import type { ResourceLimits } from '../../jobs/job.ts';
import type { CgroupDriver } from './cgroup.ts';
import { CgroupV1Driver } from './v1.ts';
import { CgroupV2Driver } from './v2.ts';

export const CGROUP_MOUNT = '/sys/fs/cgroup';

/**
 * `rootLimits` bound all jobs together: the host less what it keeps for itself. `cgroupParent`
 * (v2 only: v1 builds its trees at each hierarchy's root) is where the jobs' tree goes.
 */
export async function detectCgroups(
  mountRoot = CGROUP_MOUNT,
  rootLimits: ResourceLimits = {},
  cgroupParent?: string,
): Promise<CgroupDriver | undefined> {
  return (
    (await CgroupV2Driver.detect(mountRoot, rootLimits, cgroupParent)) ??
    (await CgroupV1Driver.detect(mountRoot, rootLimits))
  );
}
