// The volumes step: the client's volumes a job asked for, bound into its private sandbox at the
// paths it named, read-only when it asked. Each volume's filesystem is mounted on the host by
// src/volumes/ (its root owned by the client's job uid, the uid the sandbox gives the job); the
// supervisor binds that directory over the sandbox's writable tmpfs (native/sandbox.c), so a
// volume at /work/src is not hidden by /work's own. Where a volume is mounted is asked at each
// launch: a queued job's volume is found when it starts, and one removed meanwhile fails it.
import { LimitNotEnforceableError } from '../../errors.ts';
import type { VolumeMount } from '../../jobs/volume-mounts.ts';
import type { LaunchRequest } from '../launcher.ts';
import type { LaunchStep, StepSetup } from './launch-step.ts';
import { argumentsOnly } from './launch-step.ts';

/** The host directory where a client's volume is mounted; throws VolumeNotFoundError. */
export type MountedPath = (client: string, name: string) => string;

export class VolumesStep implements LaunchStep {
  /** Undefined where the host keeps no volumes (no root, no private sandbox). */
  readonly #mountedPath: MountedPath | undefined;

  constructor(mountedPath: MountedPath | undefined) {
    this.#mountedPath = mountedPath;
  }

  check(request: LaunchRequest): void {
    if (request.spec.volumes.length === 0) return;
    if (this.#mountedPath === undefined) {
      throw new LimitNotEnforceableError('volumes', 'this host keeps no volumes');
    }
    // jobshim binds volumes while it builds the private root; a job on the host's has none.
    if (request.spec.sandbox !== 'private') {
      throw new LimitNotEnforceableError('volumes', 'volumes are mounted in the private sandbox');
    }
    // A volume that is not the client's (or no longer is) refuses the start before any step
    // sets anything up: VOLUME_NOT_FOUND, as for a name never made.
    for (const mount of request.spec.volumes) this.#mountedPath(request.owner, mount.name);
  }

  /** Async, so a volume gone since the job was queued rejects, and the other steps are undone. */
  // eslint-disable-next-line @typescript-eslint/require-await -- a throw must be a rejection
  async prepare(request: LaunchRequest): Promise<StepSetup> {
    const mountedPath = this.#mountedPath;
    if (mountedPath === undefined) return argumentsOnly([]);
    return argumentsOnly(
      outermostFirst(request.spec.volumes).flatMap((mount) => [
        mount.readOnly ? '--ro-volume' : '--rw-volume',
        mountedPath(request.owner, mount.name),
        mount.path,
      ]),
    );
  }

  missingWhenRequired(): undefined {
    // Asked for per job, and refused by `check` where the host has none.
    return undefined;
  }
}

/** /work before /work/src: an inner mount is made inside the outer one, not hidden by it. */
function outermostFirst(mounts: readonly VolumeMount[]): VolumeMount[] {
  return [...mounts].sort((a, b) => a.path.split('/').length - b.path.split('/').length);
}
