// What jobshim is told to build for a job's private sandbox: the read-only binds (the operator's
// host paths, or an image's top-level entries), the job's uid, the size of its writable tmpfs and
// its hostname. The mounts themselves are native/sandbox.c's.
import { ImageNotFoundError } from '../errors.ts';
import type { JobSpec } from '../jobs/job.ts';
import type { ImageStore } from './images.ts';

/** A host path the private sandbox shows at the same place. */
export interface HostBind {
  readonly path: string;
  readonly writable: boolean;
}

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

/** Nomad's exec driver chroot: enough of the host to run its programs, none of its data. */
export const DEFAULT_BINDS = '/bin,/etc,/lib,/lib32,/lib64,/sbin,/usr';

/** Top-level paths the sandbox makes itself (native/sandbox.c): no bind or image entry goes there. */
const SANDBOX_OWNED = ['proc', 'sys', 'dev', 'tmp', 'run', 'work'] as const;

/** Writable tmpfs of a job without a memory limit; with one, the limit (the cgroup counts it). */
const DEFAULT_TMPFS_BYTES = 256 * 1024 ** 2;

export class BindListError extends Error {
  readonly code = 'BIND_LIST_INVALID';
}

/** `PATH[:ro|:rw],...`: absolute, normalised paths, none of those the sandbox makes itself. */
export function parseBinds(text: string): HostBind[] {
  const binds = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const [path = '', mode = 'ro', ...rest] = entry.split(':');
      if (rest.length > 0 || (mode !== 'ro' && mode !== 'rw'))
        throw new BindListError(`'${entry}': expected PATH, PATH:ro or PATH:rw`);
      if (!path.startsWith('/') || path.split('/').some((part) => part === '.' || part === '..'))
        throw new BindListError(`'${entry}': the path must be absolute, without . or ..`);
      const normalised = path.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
      const owned = [...SANDBOX_OWNED, 'var/tmp'].some(
        (path) => normalised === `/${path}` || normalised.startsWith(`/${path}/`),
      );
      if (normalised === '/' || owned)
        throw new BindListError(`'${entry}': the sandbox makes ${normalised} itself`);
      return { path: normalised, writable: mode === 'rw' };
    });
  // Outer paths first, so /usr is in place before a bind below it such as /usr/share/x.
  return binds.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
}

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
