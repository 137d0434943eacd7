// The job lifecycle as an explicit state machine: every status change goes through
// `assertTransition`, so an impossible change (say, `exited` back to `running`) is a loud bug
// instead of a silently wrong status.
import { InvalidStateTransitionError } from '../errors.ts';
import type { JobStatus } from '../jobs/job-status.ts';

const ALLOWED: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  // A queued job starts when admission lets it, or is stopped (by a client or its queue timeout)
  // without ever running, or fails when its turn comes and its client's output budget is spent.
  queued: ['starting', 'stopped', 'failed'],
  // A job whose launch the server never reached (it was killed first) goes back to the queue.
  // A job may end before its start was recorded: the server crashed while launching it, and on
  // restart finds that its supervisor ran it to the end.
  starting: ['queued', 'running', 'exited', 'stopped', 'timedout', 'failed', 'lost'],
  running: ['stopping', 'exited', 'stopped', 'timedout', 'lost'],
  stopping: ['stopped', 'timedout', 'exited', 'lost'],
  exited: [],
  stopped: [],
  timedout: [],
  failed: [],
  lost: [],
};

export function assertTransition(from: JobStatus, to: JobStatus): void {
  if (!ALLOWED[from].includes(to)) throw new InvalidStateTransitionError(from, to);
}
