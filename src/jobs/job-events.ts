// What happens to a job that someone other than its client is told of: a status change (metrics
// count it), a queued job leaving the queue and a job its certificate's revocation reached (the
// audit trail records both). The registry emits them; metrics/ and audit/ consume them. Shared
// vocabulary, below all three, so neither consumer has to import the registry to name its input.
import type { Job } from './job.ts';
import type { JobStatus } from './job-status.ts';

/** A job's status changed, after the change was stored. */
export interface Transition {
  readonly job: Job;
  readonly from: JobStatus;
  readonly to: JobStatus;
}

/** A queued job left the queue. */
export interface DequeueEvent {
  readonly job: Job;
  /** `started`: its turn came; `timed out`: it waited longer than its queue timeout. */
  readonly outcome: 'started' | 'timed out';
  readonly waitedMs: number;
}

/** A job its client certificate's revocation reached. */
export interface RevokedJobEvent {
  readonly job: Job;
  /** The revoked certificate's serial, as the job recorded it. */
  readonly serial: string;
  /** `never started`: it was queued; `stopped`: it was running; `left running`: `--on-revoke leave`. */
  readonly outcome: 'never started' | 'stopped' | 'left running';
}
