// What the operator's configuration says a job may have: the defaults every job gets, the
// ceilings of each role, each client's totals and output budget, and the sandbox the host gives.
// config.ts builds it; the API applies it to every job request, and shows it (GET /v1/limits)
// with the same functions, so what a client is told is what its requests get.
import type { LimitKind, NetworkMode, ResourceLimits, SandboxMode } from '../jobs/job.ts';
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
  readonly network: NetworkPolicy;
}

/** The operator's word on the job's filesystem; a request only chooses within it. */
export interface SandboxPolicy {
  /** Whether this host gives the private sandbox; without it every job runs on the host. */
  readonly available: boolean;
  /** Roles that may ask for `"sandbox": "host"`. */
  readonly hostRoles: ReadonlySet<Role>;
}

/** The operator's word on the job's network; a request only chooses within it. */
export interface NetworkPolicy {
  /** The mode of a job that names none, for roles that may have it. */
  readonly defaultMode: NetworkMode;
  /** Roles that may ask for `"network": "egress"`. */
  readonly egressRoles: ReadonlySet<Role>;
  /** Roles that may ask for `"network": "host"`. */
  readonly hostRoles: ReadonlySet<Role>;
}

/** The modes from the most closed to the most open: a default narrows along it. */
const NETWORK_OPENNESS: readonly NetworkMode[] = ['none', 'egress', 'host'];

/** Whether a client of this role may ask for the mode; `none` is everyone's. */
export function networkAllowed(policy: NetworkPolicy, mode: NetworkMode, role: Role): boolean {
  if (mode === 'egress') return policy.egressRoles.has(role);
  if (mode === 'host') return policy.hostRoles.has(role);
  return true;
}

/**
 * The network of a job that names none: the server's default where the role may have it, else
 * the most open mode the role may have below it (as a default timeout is capped by the role's
 * ceiling), so a default of `host` gives a user `egress`, never a refusal it did not ask for.
 */
export function defaultNetworkOf(policy: NetworkPolicy, role: Role): NetworkMode {
  const widest = NETWORK_OPENNESS.indexOf(policy.defaultMode);
  return (
    NETWORK_OPENNESS.slice(0, widest + 1)
      .reverse()
      .find((mode) => networkAllowed(policy, mode, role)) ?? 'none'
  );
}

/**
 * The limits a job of a client of this role gets for what it does not ask: the defaults the host
 * can enforce, each at most the client's total (a larger default would only fail at the cgroup).
 */
export function defaultLimitsOf(policy: LimitPolicy, role: Role): ResourceLimits {
  return within(enforceableDefaults(policy), policy.clientTotals[role]);
}

/** The wall-clock limit of a job that asks for none: the default, at most the role's ceiling. */
export function defaultTimeoutOf(policy: LimitPolicy, role: Role): number | undefined {
  const ceiling = policy.ceilings[role].timeoutMs;
  const fallback = policy.defaultTimeoutMs;
  if (fallback === undefined) return ceiling;
  return ceiling === undefined ? fallback : Math.min(fallback, ceiling);
}

/** The filesystem of a job that asks for none: the private sandbox wherever the host gives it. */
export function defaultSandboxOf(policy: SandboxPolicy): SandboxMode {
  return policy.available ? 'private' : 'host';
}

function within(limits: ResourceLimits, totals: ResourceLimits): ResourceLimits {
  const lower = (value: number | undefined, total: number | undefined): number | undefined =>
    value === undefined || total === undefined ? value : Math.min(value, total);
  const cpus = lower(limits.cpus, totals.cpus);
  const memoryBytes = lower(limits.memoryBytes, totals.memoryBytes);
  const pids = lower(limits.pids, totals.pids);
  return {
    ...limits,
    ...(cpus === undefined ? {} : { cpus }),
    ...(memoryBytes === undefined ? {} : { memoryBytes }),
    ...(pids === undefined ? {} : { pids }),
  };
}

function enforceableDefaults(policy: LimitPolicy): ResourceLimits {
  const { defaults, enforceable } = policy;
  return {
    ...(defaults.cpus !== undefined && enforceable.has('cpu') ? { cpus: defaults.cpus } : {}),
    ...(defaults.memoryBytes !== undefined && enforceable.has('memory')
      ? { memoryBytes: defaults.memoryBytes }
      : {}),
    ...(defaults.pids !== undefined && enforceable.has('pids') ? { pids: defaults.pids } : {}),
  };
}
