// What the operator's configuration says a job may have: the defaults every job gets, the
// ceilings of each role, each client's totals and output budget, and the sandbox the host gives.
// config.ts builds it; the API applies it to every job request.
import type { LimitKind, ResourceLimits } from '../jobs/job.ts';
import type { Role } from '../pki/roles.ts';

/** Limits as configured: the defaults every job gets, and per-role ceilings on requests. */
export interface LimitPolicy {
  readonly defaults: ResourceLimits;
  readonly defaultTimeoutMs: number | undefined;
  readonly ceilings: Readonly<Record<Role, ResourceLimits & { readonly timeoutMs?: number }>>;
  /** What all running jobs of one client of a role may use together; a job may not ask more. */
  readonly clientTotals: Readonly<Record<Role, ResourceLimits>>;
  /** Output kept for all jobs of one client of a role; absent for no budget. */
  readonly outputBudgets: Readonly<Partial<Record<Role, number>>>;
  /** Which kinds the host can enforce; defaults of other kinds are not applied. */
  readonly enforceable: ReadonlySet<LimitKind>;
  readonly sandbox: SandboxPolicy;
}

/** The operator's word on the job's filesystem; a request only chooses within it. */
export interface SandboxPolicy {
  /** Whether this host gives the private sandbox; without it every job runs on the host. */
  readonly available: boolean;
  /** Roles that may ask for `"sandbox": "host"`. */
  readonly hostRoles: ReadonlySet<Role>;
}
