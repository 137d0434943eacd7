// Turns a POST /v1/jobs body into a JobSpec: validates its shape (zod), then applies the server's
// default limits and the caller's role ceilings. Every rejection names the offending field.
import { z } from 'zod';
import {
  InvalidRequestError,
  LimitExceedsCeilingError,
  LimitExceedsClientTotalError,
  LimitNotEnforceableError,
  SandboxNotAllowedError,
} from '../errors.ts';
import { IMAGE_NAME, type JobSpec, type ResourceLimits, type SandboxMode } from '../jobs/job.ts';
import type { Role } from '../pki/roles.ts';
import type { LimitPolicy, SandboxPolicy } from '../policy/limit-policy.ts';
import {
  LABEL_KEY,
  LABEL_KEY_RULE,
  LABEL_VALUE,
  LABEL_VALUE_RULE,
  MAX_LABELS,
} from '../jobs/labels.ts';
import {
  DURATION_TEXT,
  formatBytes,
  MAX_SIZE_BYTES,
  parseDuration,
  parseSize,
  SIZE_TEXT,
} from '../util/quantities.ts';

/** Where a sandboxed job starts unless it asks otherwise: its own writable directory. */
const SANDBOX_WORK_DIR = '/work';

/** Text that a C string can carry: argv, environment and paths end at the first NUL. */
const NO_NUL = /^[^\0]*$/;
const NO_NUL_MESSAGE = 'must not contain NUL bytes';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const size = z
  .union([
    z.number().int().positive().max(MAX_SIZE_BYTES).meta({ format: 'int64' }),
    z.string().min(1).max(32).regex(SIZE_TEXT, 'expected a size such as 67108864 or "64M"'),
  ])
  .meta({ description: 'bytes, or a size with a unit such as "64M", "1.5GiB" or "500MB"' });
const duration = z
  .union([
    z.number().positive(),
    z.string().min(1).max(32).regex(DURATION_TEXT, 'expected a duration such as 30, "30s" or "5m"'),
  ])
  .meta({
    description: 'seconds, or a duration with a unit such as "500ms", "30s", "5m", "2h" or "1d"',
  });

/**
 * The body of POST /v1/jobs: what validates every request, and (through z.toJSONSchema) the
 * `JobRequest` component of the OpenAPI document, so the two cannot say different things.
 */
export const jobRequestSchema = z.strictObject({
  command: z.string().min(1).max(4096).regex(NO_NUL, NO_NUL_MESSAGE).meta({
    description: 'the program: an absolute path or a name looked up in PATH (never a shell line)',
  }),
  args: z
    .array(
      z
        .string()
        .max(128 * 1024)
        .regex(NO_NUL, NO_NUL_MESSAGE),
    )
    .max(4096)
    .default([]),
  env: z
    .record(
      z
        .string()
        .max(256)
        .regex(
          ENV_NAME,
          'must be a variable name: letters, digits and _, not starting with a digit',
        ),
      z
        .string()
        .max(32 * 1024)
        .regex(NO_NUL, NO_NUL_MESSAGE),
    )
    .refine((env) => Object.keys(env).length <= 256, 'at most 256 variables')
    .default({})
    .meta({
      maxProperties: 256,
      description:
        "variables merged over the worker's minimal environment; the job record keeps their names only",
    }),
  cwd: z
    .string()
    .max(4096)
    .regex(/^\/[^\0]*$/, 'must be an absolute path, without NUL bytes')
    .optional()
    .meta({
      description:
        "a path as the job sees it: in the private sandbox its own writable `/work` (the default), on the host's filesystem `/`",
    }),
  sandbox: z.enum(['private', 'host']).optional().meta({
    description:
      "`private` (the default): the job's own root of read-only host paths or an image, memory-backed writable space, its client's own uid and a seccomp filter. `host`: the host's filesystem, for roles the server's configuration allows (`SANDBOX_NOT_ALLOWED` otherwise)",
  }),
  image: z
    .string()
    .max(64)
    .regex(IMAGE_NAME, 'must be an image name: a-z, 0-9, ".", "_" and "-", up to 64')
    .optional()
    .meta({
      description:
        'a root filesystem image the operator imported (`npm run images`), seen instead of the host paths',
    }),
  labels: z
    .record(
      z.string().max(317).regex(LABEL_KEY, LABEL_KEY_RULE),
      z.string().max(63).regex(LABEL_VALUE, LABEL_VALUE_RULE),
    )
    .refine((labels) => Object.keys(labels).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`)
    .default({})
    .meta({
      maxProperties: MAX_LABELS,
      description:
        "the client's own names for the job, to find it again (`?label=key=value`): Kubernetes' rules for label keys and values",
      examples: [{ pipeline: '4711', stage: 'test' }],
    }),
  limits: z
    .strictObject({
      // The kernel's smallest CPU quota is 1 ms per 100 ms period: a hundredth of a CPU.
      cpus: z.number().min(0.01).max(1024).optional().meta({ description: 'CPU quota, in CPUs' }),
      memory: size.optional(),
      pids: z.number().int().positive().max(4_194_304).optional().meta({ format: 'int32' }),
      ioReadBps: size.optional(),
      ioWriteBps: size.optional(),
    })
    .default({})
    .meta({
      description:
        "the server's defaults apply to what is not asked for; each is capped by the caller's role ceiling",
    }),
  timeout: duration.optional(),
  queueTimeout: duration.optional().meta({
    description:
      'how long it may wait in the queue (at most 7 days); past that it ends `stopped` without having run. Default: no limit',
  }),
  stdin: z.boolean().default(false).meta({
    description:
      "keep the job's standard input open for its owner to write to (`PUT /v1/jobs/{id}/stdin`); without it the job reads an empty input",
  }),
});

type JobRequest = z.infer<typeof jobRequestSchema>;

export function parseJobRequest(body: unknown, role: Role, policy: LimitPolicy): JobSpec {
  const parsed = jobRequestSchema.safeParse(body);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({
      field: issue.path.map(String).join('.') || '(body)',
      message: issue.message,
    }));
    const summary = details.map((detail) => `${detail.field}: ${detail.message}`).join('; ');
    throw new InvalidRequestError(`invalid job request: ${summary}`, details);
  }
  const request = parsed.data;
  const sandbox = resolveSandbox(request, role, policy.sandbox);
  const limits = resolveLimits(request, role, policy);
  const timeoutMs = resolveTimeout(request, role, policy);
  const queueTimeoutMs = resolveQueueTimeout(request);
  return {
    command: request.command,
    args: request.args,
    env: request.env,
    cwd: request.cwd ?? (sandbox === 'private' ? SANDBOX_WORK_DIR : '/'),
    limits,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    sandbox,
    ...(request.image === undefined ? {} : { image: request.image }),
    labels: request.labels,
    ...(queueTimeoutMs === undefined ? {} : { queueTimeoutMs }),
    stdin: request.stdin,
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
  if (request.sandbox === 'host' && !policy.hostRoles.has(role))
    throw new SandboxNotAllowedError(role);
  if (!policy.available) {
    if (request.image !== undefined || request.sandbox === 'private') {
      throw new LimitNotEnforceableError(
        request.image === undefined ? 'sandbox' : 'image',
        'this host gives no private sandbox (it needs root and namespaces)',
      );
    }
    return 'host';
  }
  return request.sandbox ?? 'private';
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
  const ceiling = policy.ceilings[role];
  checkCeiling('limits.cpus', requested.cpus, ceiling.cpus, role, String);
  checkCeiling('limits.memory', requested.memoryBytes, ceiling.memoryBytes, role, formatBytes);
  checkCeiling('limits.pids', requested.pids, ceiling.pids, role, String);
  checkCeiling(
    'limits.ioReadBps',
    requested.ioReadBytesPerSecond,
    ceiling.ioReadBytesPerSecond,
    role,
    formatBytes,
  );
  checkCeiling(
    'limits.ioWriteBps',
    requested.ioWriteBytesPerSecond,
    ceiling.ioWriteBytesPerSecond,
    role,
    formatBytes,
  );
  const totals = policy.clientTotals[role];
  checkTotal('limits.cpus', requested.cpus, totals.cpus, String);
  checkTotal('limits.memory', requested.memoryBytes, totals.memoryBytes, formatBytes);
  checkTotal('limits.pids', requested.pids, totals.pids, String);
  // A default larger than the client's total would only fail at the cgroup: it is the total.
  return { ...within(enforceableDefaults(policy), totals), ...requested };
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

function resolveTimeout(request: JobRequest, role: Role, policy: LimitPolicy): number | undefined {
  const ceiling = policy.ceilings[role].timeoutMs;
  if (request.timeout === undefined) {
    const fallback = policy.defaultTimeoutMs;
    if (fallback === undefined) return ceiling;
    return ceiling === undefined ? fallback : Math.min(fallback, ceiling);
  }
  const timeoutMs = parseDuration(request.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) {
    throw new InvalidRequestError(
      'invalid job request: timeout: expected a duration such as 30, "30s" or "5m"',
      [{ field: 'timeout', message: 'expected a duration such as 30, "30s" or "5m"' }],
    );
  }
  checkCeiling('timeout', timeoutMs, ceiling, role, (ms) => `${ms / 1000}s`);
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
