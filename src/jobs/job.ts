// The job model: what a client asks to run, and what the worker records about it. Plain data,
// so that the store, the registry and the API can share it without sharing behaviour.

/** Every status a job can have, in the order of a job's life. */
export const JOB_STATUSES = [
  'queued',
  'starting',
  'running',
  'stopping',
  'exited',
  'stopped',
  'timedout',
  'failed',
  'lost',
] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

export const ENDED_STATUSES: ReadonlySet<JobStatus> = new Set([
  'exited',
  'stopped',
  'timedout',
  'failed',
  'lost',
]);

export function hasEnded(status: JobStatus): boolean {
  return ENDED_STATUSES.has(status);
}

/** The statuses of a job that has not ended yet. */
export const UNFINISHED_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter(
  (status) => !hasEnded(status),
);

/**
 * The statuses of a job that holds one of its client's running slots and its memory
 * reservation: launched (or being launched) and not ended. A queued job holds neither.
 */
export const SLOT_STATUSES: readonly JobStatus[] = UNFINISHED_STATUSES.filter(
  (status) => status !== 'queued',
);

/** The kinds of limit a host may or may not be able to enforce (a cgroup controller each). */
export type LimitKind = 'cpu' | 'memory' | 'pids' | 'io';

/** What the server does with running jobs when it stops: leave them for the next, or stop them. */
export type ShutdownPolicy = 'leave-running' | 'stop';

/** Resource limits of one job; an absent field means "no limit of this kind". */
export interface ResourceLimits {
  /** CPU quota in CPUs, e.g. 0.5 for half a core. */
  readonly cpus?: number;
  /** Hard memory cap in bytes, swap excluded. */
  readonly memoryBytes?: number;
  /** Maximum number of processes and threads. */
  readonly pids?: number;
  /** Disk read bandwidth in bytes per second. */
  readonly ioReadBytesPerSecond?: number;
  /** Disk write bandwidth in bytes per second. */
  readonly ioWriteBytesPerSecond?: number;
}

/**
 * The filesystem a job sees. `private`: its own root built from the operator's read-only binds
 * (or an image), memory-backed writable space, and its client's own uid. `host`: the host's
 * filesystem as the job user sees it, for roles the operator allows.
 */
export type SandboxMode = 'private' | 'host';

/** An image's name: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit. */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

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
  /** The client's own names for the job, to find it again (worker/labels.ts has the rules). */
  readonly labels: Readonly<Record<string, string>>;
  /** How long it may wait in the queue before it is stopped unstarted; undefined: for ever. */
  readonly queueTimeoutMs?: number;
  /** Whether its standard input is a stream clients write to (else it reads /dev/null). */
  readonly stdin: boolean;
}

/** What one client may use across all of its jobs: the operator's configuration for its role. */
export interface ClientBudget {
  /** Limits on all of its running jobs together (its parent cgroup). */
  readonly totals: ResourceLimits;
  /** Output kept for all of its jobs together, running and ended; undefined for no budget. */
  readonly outputBytes?: number;
}

export interface ResourceUsage {
  readonly cpuMs: number;
  readonly peakMemoryBytes: number;
}

export interface Job {
  readonly id: string;
  readonly owner: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Names only: values may be secrets and are never stored or shown. */
  readonly envNames: readonly string[];
  readonly cwd: string;
  readonly limits: ResourceLimits;
  readonly timeoutMs: number | null;
  readonly sandbox: SandboxMode;
  readonly image: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly queueTimeoutMs: number | null;
  /** While queued: how many of its client's queued jobs start before it, plus one. */
  readonly queuePosition: number | null;
  /** Its standard input is a stream its owner writes to (`PUT /v1/jobs/{id}/stdin`). */
  readonly stdin: boolean;
  readonly status: JobStatus;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Why a job failed to start or was lost. */
  readonly error: string | null;
  readonly oomKilled: boolean;
  readonly usage: ResourceUsage | null;
  readonly outputBytes: number;
  readonly outputTruncated: boolean;
  /**
   * The most output kept for this job: the server's per-job cap, or less when the client's output
   * budget had less left when the job started; null for no cap.
   */
  readonly outputCapBytes: number | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly stopRequestedAt: string | null;
  readonly endedAt: string | null;
}

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

export interface JobPage {
  readonly jobs: readonly Job[];
  /** Where the next page starts, when there may be more. */
  readonly next?: number;
}
