// What jobshim is told to build for a job's private sandbox: the read-only binds (the operator's
// host paths, or an image's top-level entries), the job's uid, the size of its writable tmpfs and
// its hostname. The mounts themselves are native/sandbox.c's.
import { ImageNotFoundError } from '../errors.ts';
import type { JobSpec } from '../jobs/job.ts';
import { SANDBOX_OWNED, type HostBind } from '../jobs/host-binds.ts';
import type { ImageStore } from './images.ts';

/** Each client's own uid (its gid is the same number), from a range no host account uses. */
export interface ClientUids {
  readonly range: { readonly first: number; readonly count: number };
  uidOf(client: string): number;
}

export interface SandboxSettings {
  readonly binds: readonly HostBind[];
  readonly accounts: ClientUids;
  readonly images: ImageStore;
}

/** Writable tmpfs of a job without a memory limit; with one, the limit (the cgroup counts it). */
const DEFAULT_TMPFS_BYTES = 256 * 1024 ** 2;

export function describeBinds(binds: readonly HostBind[]): string[] {
  return binds.map((bind) => (bind.writable ? `${bind.path}:rw` : bind.path));
}

/** jobshim's sandbox arguments for one job. */
export async function sandboxArguments(
  settings: SandboxSettings,
  jobId: string,
  owner: string,
  spec: JobSpec,
): Promise<string[]> {
  const uid = settings.accounts.uidOf(owner);
  const args = ['--sandbox', '--uid', String(uid), '--gid', String(uid)];
  args.push('--hostname', `job-${jobId.slice(0, 8)}`);
  args.push('--tmpfs-size', String(spec.limits.memoryBytes ?? DEFAULT_TMPFS_BYTES));
  for (const bind of await bindsFor(settings, spec)) {
    args.push(bind.writable ? '--rw-bind' : '--ro-bind', bind.source, bind.target);
  }
  return args;
}

async function bindsFor(
  settings: SandboxSettings,
  spec: JobSpec,
): Promise<{ source: string; target: string; writable: boolean }[]> {
  if (spec.image === undefined) {
    return settings.binds.map((bind) => ({
      source: bind.path,
      target: bind.path,
      writable: bind.writable,
    }));
  }
  const root = settings.images.rootOf(spec.image);
  if (root === undefined) throw new ImageNotFoundError(spec.image);
  const entries = (await settings.images.topLevelEntries(root)).filter(
    (entry) => !(SANDBOX_OWNED as readonly string[]).includes(entry),
  );
  return entries.map((entry) => ({
    source: `${root}/${entry}`,
    target: `/${entry}`,
    writable: false,
  }));
}
