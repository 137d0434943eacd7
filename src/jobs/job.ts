// The job model: what a client asks to run, and what the worker records about it. Plain data,
// so that the store, the registry and the API can share it without sharing behaviour. The job
// record is a zod schema: the OpenAPI document's `Job` component is generated from it and the
// `Job` type inferred from it, so the two cannot say different things.
import { z } from 'zod';
import { describeValues } from '../util/describe-values.ts';
import { labelsSchema } from './labels.ts';
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

/** Whether a job's stderr is a pipe of its own or its stdout's (one stream, in order). */
export const stderrModeSchema = z.enum(['separate', 'merged']);
export type StderrMode = z.output<typeof stderrModeSchema>;

export interface JobSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** Variables the client asked for; merged over the worker's minimal base environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly limits: ResourceLimits;
  /** Wall-clock limit in milliseconds; undefined for none. */
  readonly timeoutMs?: number;
  readonly sandbox: SandboxMode;
  /** An operator-imported root filesystem instead of the host's binds (private sandbox only). */
  readonly image?: string;
  /** The client's own names for the job, to find it again (labels.ts has the rules). */
  readonly labels: Readonly<Record<string, string>>;
  /** How long it may wait in the queue before it is stopped unstarted; undefined: for ever. */
  readonly queueTimeoutMs?: number;
  /** Whether its standard input is a stream clients write to (else it reads /dev/null). */
  readonly stdin: boolean;
  /** A pseudo-terminal for stdin, stdout and stderr, of this size at start; undefined for none. */
  readonly tty?: TerminalSize;
  /** `merged`: stderr is the stdout pipe, so the two keep the order they were written in. */
  readonly stderr: StderrMode;
}

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
