// Turns a POST /v1/jobs body into a JobSpec: validates its shape (the contract's zod schema), then
// applies the server's default limits and the caller's role ceilings. Every rejection names the
// offending field.
import { jobRequestSchema, type JobRequest } from '../../contract/job-request.ts';
import {
  InvalidRequestError,
  LimitExceedsCeilingError,
  LimitExceedsClientTotalError,
  LimitNotEnforceableError,
  NetworkForbiddenError,
  SandboxNotAllowedError,
} from '../../errors.ts';
import {
  DEFAULT_TERMINAL_SIZE,
  type JobSpec,
  type NetworkMode,
  type ResourceLimits,
  type SandboxMode,
} from '../../jobs/job.ts';
import { keptAsAsked } from '../../jobs/job-spec.ts';
import type { Role } from '../../pki/roles.ts';
import {
  defaultLimitsOf,
  defaultNetworkOf,
  defaultSandboxOf,
  defaultTimeoutOf,
  networkAllowed,
  type LimitPolicy,
  type NetworkPolicy,
  type SandboxPolicy,
} from '../../policy/limit-policy.ts';
import { describeIssues } from '../http/validation-messages.ts';
import { formatBytesAs, MAX_SIZE_BYTES, parseDuration, parseSize } from '../../util/quantities.ts';

/** Where a sandboxed job starts unless it asks otherwise: its own writable directory. */
const SANDBOX_WORK_DIR = '/work';

export function parseJobRequest(body: unknown, role: Role, policy: LimitPolicy): JobSpec {
  const parsed = jobRequestSchema.safeParse(body);
  if (!parsed.success) {
    const details = describeIssues(
      parsed.error.issues,
      body,
      (path) => path.map(String).join('.') || '(body)',
    );
    const summary = details.map((detail) => `${detail.field}: ${detail.message}`).join('; ');
    throw new InvalidRequestError(`invalid job request: ${summary}`, details);
  }
  const request = parsed.data;
  if (request.ttySize !== undefined && !request.tty) {
    throw new InvalidRequestError('invalid job request: ttySize: needs "tty": true', [
      { field: 'ttySize', message: 'needs "tty": true' },
    ]);
  }
  const sandbox = resolveSandbox(request, role, policy.sandbox);
  const network = resolveNetwork(request, role, policy.network);
  const limits = resolveLimits(request, role, policy);
  const timeoutMs = resolveTimeout(request, role, policy);
  const queueTimeoutMs = resolveQueueTimeout(request);
  return {
    // The fields no policy governs, as asked (command, args, env, image, labels, stderr...).
    ...keptAsAsked(request),
    cwd: request.cwd ?? (sandbox === 'private' ? SANDBOX_WORK_DIR : '/'),
    limits,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    sandbox,
    network,
    ...(queueTimeoutMs === undefined ? {} : { queueTimeoutMs }),
    stdin: request.stdin || request.tty,
    ...(request.tty ? { tty: request.ttySize ?? DEFAULT_TERMINAL_SIZE } : {}),
  };
}

/**
 * A job gets the private sandbox unless it asks for the host and its role may have it. Where the
 * host gives no sandbox (best-effort isolation without root), every job runs on the host, as the
 * job's record and /healthz say.
 */
function resolveSandbox(request: JobRequest, role: Role, policy: SandboxPolicy): SandboxMode {
  if (request.sandbox === 'host' && request.image !== undefined) {
    throw new InvalidRequestError('invalid job request: image: an image runs in the sandbox', [
      { field: 'image', message: 'not with "sandbox": "host"' },
    ]);
  }
  // jobshim binds volumes while it builds the private root; the host's filesystem has no place.
  if (request.sandbox === 'host' && request.volumes.length > 0) {
    throw new InvalidRequestError('invalid job request: volumes: mounted in the sandbox only', [
      { field: 'volumes', message: 'not with "sandbox": "host"' },
    ]);
  }
  if (request.sandbox === 'host' && !policy.hostRoles.has(role))
    throw new SandboxNotAllowedError(role);
  if (!policy.available && (request.image !== undefined || request.sandbox === 'private')) {
    throw new LimitNotEnforceableError(
      request.image === undefined ? 'sandbox' : 'image',
      'this host gives no private sandbox (it needs root and namespaces)',
    );
  }
  return request.sandbox ?? defaultSandboxOf(policy);
}

/** The mode asked for if the role may have it (403 naming the mode otherwise), else the default. */
function resolveNetwork(request: JobRequest, role: Role, policy: NetworkPolicy): NetworkMode {
  const asked = request.network;
  if (asked === undefined) return defaultNetworkOf(policy, role);
  if (asked !== 'none' && !networkAllowed(policy, asked, role)) {
    throw new NetworkForbiddenError(asked, role);
  }
  return asked;
}

function resolveLimits(request: JobRequest, role: Role, policy: LimitPolicy): ResourceLimits {
  const asked = request.limits;
  const requested: ResourceLimits = {
    ...(asked.cpus === undefined ? {} : { cpus: asked.cpus }),
    ...(asked.memory === undefined
      ? {}
      : { memoryBytes: sizeField('limits.memory', asked.memory) }),
    ...(asked.pids === undefined ? {} : { pids: asked.pids }),
    ...(asked.ioReadBps === undefined
      ? {}
      : { ioReadBytesPerSecond: sizeField('limits.ioReadBps', asked.ioReadBps) }),
    ...(asked.ioWriteBps === undefined
      ? {}
      : { ioWriteBytesPerSecond: sizeField('limits.ioWriteBps', asked.ioWriteBps) }),
  };
  // Errors name sizes in the unit the user wrote them in: `300Gi exceeds the ceiling 4Gi`.
  const asMemory = (bytes: number): string => formatBytesAs(bytes, asked.memory ?? 'Mi');
  const asReadRate = (bytes: number): string => formatBytesAs(bytes, asked.ioReadBps ?? 'Mi');
  const asWriteRate = (bytes: number): string => formatBytesAs(bytes, asked.ioWriteBps ?? 'Mi');
  const ceiling = policy.ceilings[role];
  checkCeiling('limits.cpus', requested.cpus, ceiling.cpus, role, String);
  checkCeiling('limits.memory', requested.memoryBytes, ceiling.memoryBytes, role, asMemory);
  checkCeiling('limits.pids', requested.pids, ceiling.pids, role, String);
  checkCeiling(
    'limits.ioReadBps',
    requested.ioReadBytesPerSecond,
    ceiling.ioReadBytesPerSecond,
    role,
    asReadRate,
  );
  checkCeiling(
    'limits.ioWriteBps',
    requested.ioWriteBytesPerSecond,
    ceiling.ioWriteBytesPerSecond,
    role,
    asWriteRate,
  );
  const totals = policy.clientTotals[role];
  checkTotal('limits.cpus', requested.cpus, totals.cpus, String);
  checkTotal('limits.memory', requested.memoryBytes, totals.memoryBytes, asMemory);
  checkTotal('limits.pids', requested.pids, totals.pids, String);
  return { ...defaultLimitsOf(policy, role), ...requested };
}

function checkTotal(
  field: string,
  requested: number | undefined,
  total: number | undefined,
  format: (value: number) => string,
): void {
  if (requested !== undefined && total !== undefined && requested > total) {
    throw new LimitExceedsClientTotalError(field, format(requested), format(total));
  }
}

function resolveTimeout(request: JobRequest, role: Role, policy: LimitPolicy): number | undefined {
  if (request.timeout === undefined) return defaultTimeoutOf(policy, role);
  const timeoutMs = parseDuration(request.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) {
    throw new InvalidRequestError(
      'invalid job request: timeout: expected a duration such as 30, "30s" or "5m"',
      [{ field: 'timeout', message: 'expected a duration such as 30, "30s" or "5m"' }],
    );
  }
  checkCeiling(
    'timeout',
    timeoutMs,
    policy.ceilings[role].timeoutMs,
    role,
    (ms) => `${ms / 1000}s`,
  );
  return timeoutMs;
}

/** The longest a job may wait in the queue; longer would outlive the timers that end it. */
const MAX_QUEUE_TIMEOUT_MS = 7 * 24 * 3_600_000;

function resolveQueueTimeout(request: JobRequest): number | undefined {
  if (request.queueTimeout === undefined) return undefined;
  const ms = parseDuration(request.queueTimeout);
  if (ms === undefined || ms <= 0 || ms > MAX_QUEUE_TIMEOUT_MS) {
    const message = 'expected a duration such as 30, "30s" or "5m", at most 7 days';
    throw new InvalidRequestError(`invalid job request: queueTimeout: ${message}`, [
      { field: 'queueTimeout', message },
    ]);
  }
  return ms;
}

function sizeField(field: string, value: number | string): number {
  const bytes = parseSize(value);
  if (bytes === undefined || bytes <= 0 || bytes > MAX_SIZE_BYTES) {
    throw new InvalidRequestError(
      `invalid job request: ${field}: expected a size such as 67108864 or "64M"`,
      [{ field, message: 'expected a size such as 67108864 or "64M"' }],
    );
  }
  return bytes;
}

function checkCeiling(
  field: string,
  requested: number | undefined,
  ceiling: number | undefined,
  role: Role,
  format: (value: number) => string,
): void {
  if (requested !== undefined && ceiling !== undefined && requested > ceiling) {
    throw new LimitExceedsCeilingError(field, format(requested), format(ceiling), role);
  }
}
