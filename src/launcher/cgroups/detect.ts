// Picks the cgroup driver for this host: the unified v2 hierarchy when it is mounted at the root
// with controllers, otherwise the v1 per-controller hierarchies (the hybrid layout keeps an empty
// v2 under `unified`, which we ignore because no controller lives there).
import type { ResourceLimits } from '../../jobs/job.ts';
import type { CgroupDriver } from './cgroup.ts';
import { CgroupV1Driver } from './v1.ts';
import { CgroupV2Driver } from './v2.ts';

export const CGROUP_MOUNT = '/sys/fs/cgroup';

/** `rootLimits` bound all jobs together: the host less what it keeps for itself. */
export async function detectCgroups(
  mountRoot = CGROUP_MOUNT,
  rootLimits: ResourceLimits = {},
): Promise<CgroupDriver | undefined> {
  return (
    (await CgroupV2Driver.detect(mountRoot, rootLimits)) ??
    (await CgroupV1Driver.detect(mountRoot, rootLimits))
  );
}
