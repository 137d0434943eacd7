// What protects jobs on this host: the launcher finds it out, /healthz and the start-up log
// report it. Shared vocabulary, so the API can report it without knowing how jobs are launched.
import type { LimitKind } from './job.ts';

/** What protects jobs on this host, reported by /healthz and logged at start-up. */
export interface Protections {
  readonly cgroups: 'v1' | 'v2' | 'none';
  readonly enforceableLimits: readonly LimitKind[];
  readonly pidNamespace: boolean;
  readonly networkNamespace: boolean;
  readonly mountNamespace: boolean;
  /** The account of jobs on the host's filesystem (and of every job without the sandbox). */
  readonly jobUser: string;
  readonly sandbox: SandboxProtections;
}

/** Which parts of the per-job sandbox this host gives (see docs/design.md). */
export interface SandboxProtections {
  /** Own root (pivot_root) from read-only binds, tmpfs writable space, own /proc, /dev, /sys. */
  readonly privateRoot: boolean;
  /** Each client's jobs run as that client's own uid, from `uidRange`. */
  readonly uidPerClient: boolean;
  readonly uidRange: { readonly first: number; readonly last: number } | null;
  /** The system-call filter modelled on Docker's default profile. */
  readonly seccomp: boolean;
  /** Host paths a private sandbox sees, as `path` (read-only) or `path:rw`. */
  readonly binds: readonly string[];
}
