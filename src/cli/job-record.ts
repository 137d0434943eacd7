// The job as the API describes it (README.md, "API"). jobctl is only a client of the HTTP API, so
// it keeps its own copy of the wire format instead of importing the server's types.

export type JobStatus =
  | 'queued'
  | 'starting'
  | 'running'
  | 'stopping'
  | 'exited'
  | 'stopped'
  | 'timedout'
  | 'failed'
  | 'lost';

export const JOB_STATUSES: readonly JobStatus[] = [
  'queued',
  'starting',
  'running',
  'stopping',
  'exited',
  'stopped',
  'timedout',
  'failed',
  'lost',
];

/** Statuses of a job that has not ended yet: what `jobctl ps` shows without --all. */
export const ACTIVE_STATUSES: ReadonlySet<JobStatus> = new Set([
  'queued',
  'starting',
  'running',
  'stopping',
]);

/** Statuses of a job that has ended: what `jobctl rm --label` deletes. */
export const ENDED_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter(
  (status) => !ACTIVE_STATUSES.has(status),
);

export interface JobRecord {
  readonly id: string;
  readonly owner: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly envNames: readonly string[];
  readonly cwd: string;
  readonly limits: Readonly<Record<string, number>>;
  readonly timeoutMs: number | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly queueTimeoutMs: number | null;
  readonly queuePosition: number | null;
  readonly status: JobStatus;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly error: string | null;
  readonly oomKilled: boolean;
  readonly usage: { readonly cpuMs: number; readonly peakMemoryBytes: number } | null;
  readonly outputBytes: number;
  readonly outputTruncated: boolean;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly stopRequestedAt: string | null;
  readonly endedAt: string | null;
}

/** The body of `POST /v1/jobs` (src/api/job-request.ts has the server's schema). */
export interface JobRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly limits?: {
    readonly cpus?: number;
    readonly memory?: string;
    readonly pids?: number;
  };
  readonly timeout?: string;
  readonly queueTimeout?: string;
  readonly sandbox?: 'private' | 'host';
  readonly image?: string;
}

export function isActive(job: JobRecord): boolean {
  return ACTIVE_STATUSES.has(job.status);
}
