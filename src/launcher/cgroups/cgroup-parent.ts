// The cgroup an operator names for the jobs' tree (--cgroup-parent): under systemd, the cgroup of
// a second delegated unit (systemd/jobworker-jobs.service) that does not restart with the server.
// It must be a cgroup of the v2 hierarchy the server uses. Anything else stops the server at
// start: building the tree somewhere the operator did not choose would bring back the restart
// failure the setting is there to avoid.
import { stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';

/** statfs(2)'s f_type of a cgroup2 file system (linux/magic.h). */
const CGROUP2_SUPER_MAGIC = 0x63677270;

export class CgroupParentError extends Error {
  readonly code = 'CGROUP_PARENT_INVALID';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CgroupParentError';
  }
}

/** Resolves when `dir` is a cgroup v2 directory; otherwise throws a CgroupParentError. */
export async function checkCgroupParent(dir: string): Promise<void> {
  let type: number;
  try {
    type = (await statfs(dir)).type;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CgroupParentError(
      missing
        ? `the cgroup parent ${dir} does not exist: start the unit that holds it first ` +
            '(systemd/jobworker-jobs.service)'
        : `cannot read the cgroup parent ${dir}`,
      { cause: error },
    );
  }
  // A cgroup's own files (cgroup.procs) live on the same file system: only a directory with a
  // cgroup.procs of its own is a cgroup.
  const isCgroup =
    type === CGROUP2_SUPER_MAGIC &&
    (await stat(join(dir, 'cgroup.procs')).then(
      (file) => file.isFile(),
      () => false,
    ));
  if (!isCgroup)
    throw new CgroupParentError(`the cgroup parent ${dir} is not a cgroup of a v2 hierarchy`);
}
