// The statuses a job can have, as plain constants: the one list the server, its SQL, the OpenAPI
// document and jobctl all use. It imports nothing, so jobctl can load it at run time without
// loading zod or any server module (its start-up time is benchmarked).

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

/** Statuses of a job that has ended: what `jobctl rm --label` deletes. */
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

/** The statuses of a job that has not ended yet: what `jobctl ps` shows without --all. */
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
