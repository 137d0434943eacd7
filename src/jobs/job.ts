// The job model: what a client asks to run, and what the worker records about it. Plain data,
// so that the store, the registry and the API can share it without sharing behaviour. The job
// record and the request (POST /v1/jobs's body, which contract/job-request.ts names for the API)
// are zod schemas: the OpenAPI document's `Job` and `JobRequest` components are generated from
// them and the `Job` and `JobSpec` types derived from them, so none can say different things.
import { z } from 'zod';
import { describeValues } from '../util/describe-values.ts';
import { DURATION_TEXT, MAX_SIZE_BYTES, SIZE_TEXT } from '../util/quantities.ts';
import { labelsSchema } from './labels.ts';
import { volumeMountsSchema } from './volume-mounts.ts';
import { JOB_STATUSES, type JobStatus } from './job-status.ts';

// A Record keyed by the status type keeps this list exhaustive: a new status fails to compile
// until it is described here.
const STATUS_MEANINGS: Readonly<Record<JobStatus, string>> = {
  queued:
    "accepted and waiting: `queueReason` says for what, `queuePosition` is its place in its client's queue",
  starting: 'accepted; its supervisor is starting it',
  running: 'running',
  stopping: 'a stop was requested; SIGKILL follows the grace period',
  exited: 'ended by itself: `exitCode`, or `signal` when a signal the worker did not send ended it',
  stopped: 'ended by a stop request; `signal` is the signal that ended it',
  timedout: 'its wall-clock limit passed',
  failed: 'could not start; `error` says why',
  lost: 'its supervisor vanished; `error` says so',
};

export const jobStatusSchema = z
  .enum(JOB_STATUSES)
  .meta({ description: describeValues(STATUS_MEANINGS) });

/** What a queued job waits for: the rule of admission (worker/admission.ts) that holds it. */
export const QUEUE_REASON_CODES = [
  'behind-own-queue',
  'running-cap',
  'client-memory',
  'output-budget',
  'fair-share',
  'host-memory',
  'next',
] as const;
export type QueueReasonCode = (typeof QUEUE_REASON_CODES)[number];

const QUEUE_REASON_MEANINGS: Readonly<Record<QueueReasonCode, string>> = {
  'behind-own-queue': "its client's earlier queued jobs start first",
  'running-cap': 'its client runs its most jobs at once (`--client-max-running`)',
  'client-memory':
    "its client's running jobs reserve so much of the client's memory total (`--client-memory`) that this job's reservation would pass it",
  'output-budget':
    "its client's running jobs hold the rest of the client's output budget (`--client-output`) at their caps; it starts as they end",
  'fair-share':
    "another client's job waits, and its client's running jobs already reserve its fair share of the host's memory for jobs (that memory divided by the clients with jobs running or queued)",
  'host-memory': 'the host has not the memory it reserves free',
  next: 'nothing holds it back: it starts as the queue moves',
};

/** Why a queued job has not started: a stable code, and the same said for a person. */
export const queueReasonSchema = z
  .object({
    code: z.enum(QUEUE_REASON_CODES).meta({ description: describeValues(QUEUE_REASON_MEANINGS) }),
    message: z.string().meta({
      description: "for a person, with its own client's figures, e.g. `alice runs 2 jobs, ...`",
    }),
  })
  .readonly();
export type QueueReason = z.output<typeof queueReasonSchema>;

/** The kinds of limit a host may or may not be able to enforce (a cgroup controller each). */
export const LIMIT_KINDS = ['cpu', 'memory', 'pids', 'io'] as const;
export type LimitKind = (typeof LIMIT_KINDS)[number];

/** What the server does with running jobs when it stops: leave them for the next, or stop them. */
export type ShutdownPolicy = 'leave-running' | 'stop';

/**
 * What becomes of the running jobs of a client certificate once it is revoked: stopped (with the
 * usual grace) or left to run on. Its queued jobs never start either way.
 */
export type RevocationPolicy = 'stop' | 'leave';

/** A point in time as the API writes it (ISO 8601 with `Z` or an offset). */
export const timestampSchema = z.iso.datetime({ offset: true }).max(64);

/** Resource limits of one job; an absent field means "no limit of this kind". */
export const resourceLimitsSchema = z
  .object({
    cpus: z
      .number()
      .exactOptional()
      .meta({ description: 'CPU quota in CPUs, e.g. 0.5 for half a core' }),
    memoryBytes: z
      .int()
      .exactOptional()
      .meta({ description: 'hard memory cap in bytes, swap excluded' }),
    pids: z.int().exactOptional().meta({ description: 'the most processes and threads' }),
    ioReadBytesPerSecond: z
      .int()
      .exactOptional()
      .meta({ description: 'disk read bandwidth in bytes per second' }),
    ioWriteBytesPerSecond: z
      .int()
      .exactOptional()
      .meta({ description: 'disk write bandwidth in bytes per second' }),
  })
  .meta({ description: 'the limits in force; an absent one is not limited' })
  .readonly();

export type ResourceLimits = z.output<typeof resourceLimitsSchema>;

/** What a job used: CPU time, the most memory it held at once, and the index of its output. */
export const resourceUsageSchema = z
  .object({
    cpuMs: z.number(),
    peakMemoryBytes: z.int(),
    memoryBytes: z.int().min(0).nullable().exactOptional().meta({
      description:
        "the memory it holds now (its cgroup's current charge), while it runs; null once it has ended, when it holds none (`peakMemoryBytes` keeps the most it held)",
    }),
    outputIndexBytes: z.int().min(0).exactOptional().meta({
      description:
        "bytes of the index kept beside its output, 4 for each piece of output as it was read, and of its times, 16 for the first piece of each millisecond: with `outputBytes`, what its output holds of `outputCapBytes` and of its client's output budget (absent for jobs recorded before it was counted)",
    }),
    networkSentBytes: z.int().min(0).exactOptional().meta({
      description:
        'an `egress` job: bytes it sent out of its network interface (headers included), counted once it has ended; absent for other jobs',
    }),
    networkReceivedBytes: z.int().min(0).exactOptional().meta({
      description:
        'an `egress` job: bytes its network interface received (headers included), counted once it has ended; absent for other jobs',
    }),
  })
  .readonly();

export type ResourceUsage = z.output<typeof resourceUsageSchema>;

/**
 * The filesystem a job sees. `private`: its own root built from the operator's read-only binds
 * (or an image), memory-backed writable space, and its client's own uid. `host`: the host's
 * filesystem as the job user sees it, for roles the operator allows.
 */
export const sandboxModeSchema = z.enum(['private', 'host']);
export type SandboxMode = z.output<typeof sandboxModeSchema>;

/** A terminal's size in character cells; a job's terminal starts at 24 x 80 unless asked. */
export const terminalSizeSchema = z
  .strictObject({
    rows: z.int().min(1).max(1000).meta({ format: 'int32' }),
    cols: z.int().min(1).max(1000).meta({ format: 'int32' }),
  })
  .readonly();
export type TerminalSize = z.output<typeof terminalSizeSchema>;
export const DEFAULT_TERMINAL_SIZE: TerminalSize = { rows: 24, cols: 80 };

/** An image's name: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit. */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * The network a job reaches. `none`: its own namespace with only `lo`. `egress`: its own
 * namespace with one interface and a route out through the host, filtered by the host's kernel
 * (only what the operator's allow list names, public addresses by default; never the host itself
 * nor other jobs); nothing connects in. `host`: the host's own network, for roles the operator
 * allows.
 */
export const NETWORK_MODES = ['none', 'egress', 'host'] as const;
export const networkModeSchema = z.enum(NETWORK_MODES);
export type NetworkMode = z.output<typeof networkModeSchema>;

/** Whether a job's stderr is a pipe of its own or its stdout's (one stream, in order). */
export const stderrModeSchema = z.enum(['separate', 'merged']);
export type StderrMode = z.output<typeof stderrModeSchema>;

/** Text that a C string can carry: argv, environment and paths end at the first NUL. */
const NO_NUL = /^[^\0]*$/;
const NO_NUL_MESSAGE = 'must not contain NUL bytes';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const size = z
  .union([
    z.number().int().positive().max(MAX_SIZE_BYTES).meta({ format: 'int64' }),
    z.string().min(1).max(32).regex(SIZE_TEXT, 'expected a size such as 67108864 or "64M"'),
  ])
  .meta({
    description:
      'bytes, or a size with a binary unit as docker and Kubernetes write them: "64M", "512Mi", "1.5GiB", "500MB" (MB is 1024 ** 2 bytes, as docker says)',
  });
const duration = z
  .union([
    z.number().positive(),
    z.string().min(1).max(32).regex(DURATION_TEXT, 'expected a duration such as 30, "30s" or "5m"'),
  ])
  .meta({
    description: 'seconds, or a duration with a unit such as "500ms", "30s", "5m", "2h" or "1d"',
  });

/** The body of POST /v1/jobs; a field it does not list is refused. */
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
  sandbox: sandboxModeSchema.optional().meta({
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
  labels: labelsSchema,
  network: networkModeSchema.optional().meta({
    description:
      "`none`: only its own loopback; `egress`: its own interface with a route out through the host, to what the operator allows (public addresses unless the server says otherwise, never the host itself or other jobs; `NETWORK_EGRESS_FORBIDDEN` for roles not allowed); `host`: the host's own network (`NETWORK_HOST_FORBIDDEN` for roles not allowed). Default: the server's `--network-default` (`none` unless set), within what the caller's role may have",
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
  stderr: stderrModeSchema.default('separate').meta({
    description:
      "`merged`: the job's stderr is its stdout pipe, so the order of what it writes to both is kept and all of it is the `stdout` stream (as `2>&1`); `separate` (the default): two pipes, each in order, but not across each other",
  }),
  tty: z.boolean().default(false).meta({
    description:
      'run the job on a pseudo-terminal, as `ssh -t` and `docker run -t` do: it is the session leader with the terminal as its controlling terminal, its output is one stream, and its input is open (`stdin` is implied). Use it through `GET /v1/jobs/{id}/attach`',
  }),
  ttySize: terminalSizeSchema.optional().meta({
    description: "the terminal's size at start (with `tty`); default 24 rows of 80 columns",
  }),
  volumes: volumeMountsSchema.default([]),
});

/** A request as the server reads it: defaults filled in. */
export type JobRequest = z.output<typeof jobRequestSchema>;

/** A request as a client writes it: what jobctl sends. */
export type JobRequestBody = z.input<typeof jobRequestSchema>;

/**
 * The request's fields the server settles before it keeps a job (src/api/jobs/job-request.ts):
 * defaults filled in, sizes and durations read into bytes and milliseconds, the terminal's size,
 * each within the caller's role. Every other field of the request is kept as the client sent it.
 */
export const SETTLED_FIELDS = [
  'cwd',
  'sandbox',
  'network',
  'limits',
  'timeout',
  'queueTimeout',
  'tty',
  'ttySize',
] as const satisfies readonly (keyof JobRequest)[];
export type SettledField = (typeof SETTLED_FIELDS)[number];

/** Its arrays readonly too: a spec is shared, never changed. */
export type Frozen<T> = {
  readonly [K in keyof T]: T[K] extends (infer Item)[] ? readonly Item[] : T[K];
};

/**
 * What a job runs, as the server accepted it: derived from the request schema, so a field the
 * request gains is part of the spec (and of its record, jobs/job-spec.ts) without a second list.
 * `env` holds the values, which are never stored: the record keeps their names.
 */
export type JobSpec = Frozen<Omit<JobRequest, SettledField>> & {
  /** Where it starts, as the job sees it. */
  readonly cwd: string;
  readonly sandbox: SandboxMode;
  /** The network it reaches; always set: the server's default is applied at admission. */
  readonly network: NetworkMode;
  readonly limits: ResourceLimits;
  /** Wall-clock limit in milliseconds; undefined for none. */
  readonly timeoutMs?: number;
  /** How long it may wait in the queue before it is stopped unstarted; undefined: for ever. */
  readonly queueTimeoutMs?: number;
  /** A pseudo-terminal for stdin, stdout and stderr, of this size at start; undefined for none. */
  readonly tty?: TerminalSize;
};

/** What one client may use across all of its jobs: the operator's configuration for its role. */
export interface ClientBudget {
  /** Limits on all of its running jobs together (its parent cgroup). */
  readonly totals: ResourceLimits;
  /** Output kept for all of its jobs together, running and ended; undefined for no budget. */
  readonly outputBytes?: number;
}

/** A job as the worker records it and the API answers it. */
export const jobSchema = z
  .object({
    id: z.uuid(),
    owner: z.string().meta({ description: 'the name of the client that started it' }),
    clientSerial: z.string().nullable().meta({
      description:
        'the serial number (hex, lower case) of the client certificate that started it: revoking that certificate ends the job (queued: never started; running: stopped, unless the server runs with `--on-revoke leave`); null for jobs recorded before serials were kept',
    }),
    command: z.string(),
    args: z.array(z.string()).readonly(),
    envNames: z.array(z.string()).readonly().meta({
      description: 'names only: values may be secrets and are never stored or shown',
    }),
    cwd: z.string(),
    limits: resourceLimitsSchema,
    timeoutMs: z.int().nullable(),
    sandbox: sandboxModeSchema.meta({
      description: "the filesystem the job saw: its own sandbox, or the host's",
    }),
    image: z.string().nullable().meta({ description: 'the image it ran in, if any' }),
    network: networkModeSchema.meta({
      description:
        "the network it reached: `none` (its own loopback only), `egress` (out through the host's filter) or `host` (the host's own)",
    }),
    labels: labelsSchema,
    status: jobStatusSchema,
    exitCode: z.int().nullable(),
    signal: z.string().nullable().meta({ description: 'e.g. SIGKILL' }),
    error: z.string().nullable().meta({
      description:
        'why it failed to start, was lost, or was stopped by the server itself, or why its output stopped short of its cap',
    }),
    oomKilled: z.boolean(),
    usage: resourceUsageSchema.nullable(),
    outputBytes: z.int().min(0),
    outputTruncated: z.boolean().meta({
      description:
        'output was dropped: past `outputCapBytes` (which counts `usage.outputIndexBytes` too), or once the data disk was down to the free space the server keeps (`error` says so)',
    }),
    outputCapBytes: z.int().min(0).nullable().meta({
      description:
        "the most output kept for this job, fixed when it launches: the server's per-job cap, or less when its client's output budget had less left then (its ended jobs' output and its running jobs' caps counted, a small floor kept for each of its other running slots); while queued, the per-job cap; null for no cap",
    }),
    queueTimeoutMs: z.int().min(1).nullable(),
    queuePosition: z.int().min(1).nullable().meta({
      description:
        "while `queued`: its place in its own client's queue (1 starts first); null otherwise",
    }),
    queueReason: queueReasonSchema.nullable().meta({
      description:
        'while `queued`: why it has not started yet, worked out when asked (as `queuePosition` is); null otherwise',
    }),
    tty: terminalSizeSchema.nullable().meta({
      description:
        'its pseudo-terminal (stdin, stdout and stderr, output as one stream) and the size it started with; null for none',
    }),
    stdin: z.boolean().meta({
      description: 'its standard input is a stream its owner writes to (`PUT /v1/jobs/{id}/stdin`)',
    }),
    stderr: stderrModeSchema.meta({
      description:
        '`merged`: its stderr was its stdout pipe, so its output is one stream (all of it `stdout`) in the order it was written; `separate`: two pipes, whose order across each other is not kept',
    }),
    volumes: volumeMountsSchema.meta({
      description: "the client's volumes it mounted, where, and whether read-only",
    }),
    createdAt: timestampSchema,
    startedAt: timestampSchema.nullable(),
    stopRequestedAt: timestampSchema.nullable(),
    endedAt: timestampSchema.nullable(),
  })
  .readonly();

export type Job = z.output<typeof jobSchema>;

/**
 * Which jobs a listing shows, all conditions ANDed. Times compare with `createdAt`; a label
 * matches when the job has that key with exactly that value.
 */
export interface JobFilter {
  readonly owner?: string;
  readonly statuses?: readonly JobStatus[];
  readonly createdSince?: Date;
  readonly createdUntil?: Date;
  readonly labels?: Readonly<Record<string, string>>;
  /** The start of the job's id, as a user types it (`jobctl logs 3f2a`). */
  readonly idPrefix?: string;
}

/** One page of a listing, newest first: where to start (exclusive) and how many at most. */
export interface PageRequest {
  /** The position after which this page starts; undefined for the first page. */
  readonly after?: number;
  readonly limit: number;
}

/**
 * One page of a listing: where its jobs are (their positions, newest first), to be read a few at
 * a time as they are sent.
 */
export interface JobPage {
  readonly positions: readonly number[];
  /** Where the next page starts, when there may be more. */
  readonly next?: number;
}
