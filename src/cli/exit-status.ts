// jobctl's exit statuses, in one table (docs/jobctl.md, "Exit status"). `run --follow` and
// `run --wait` exit with the job's own status, as `ssh host cmd` and `docker run` do, so the
// statuses of jobctl's own failures there are kept out of the way in docker's 125.
import { constants } from 'node:os';
import type { JobRecord } from './job-record.ts';

export const EXIT = {
  OK: 0,
  /** The API refused, the server could not be reached, a file could not be read. */
  FAILURE: 1,
  /** The command line was wrong. */
  USAGE: 2,
  /** The job hit its wall-clock limit, as GNU `timeout` reports it. */
  TIMED_OUT: 124,
  /** Any failure of jobctl itself in `run`, so it cannot be taken for the job's own status. */
  RUN_FAILED: 125,
  /** The job could not be started (docker: "the command cannot be invoked"). */
  CANNOT_START: 126,
  /** The job's command does not exist, as a shell reports it. */
  COMMAND_NOT_FOUND: 127,
  /** jobctl detached on Ctrl-C: the job was left running. */
  INTERRUPTED: 130,
  /** The job's supervisor vanished, so how the job ended is unknown (ssh: connection lost). */
  LOST: 255,
} as const;

const SIGNAL_BASE = 128;

/** The status a shell would report for the job's process; the job must have ended. */
export function exitStatusOf(
  job: Pick<JobRecord, 'id' | 'status' | 'exitCode' | 'signal' | 'error'>,
): number {
  switch (job.status) {
    case 'exited':
    case 'stopped':
      if (job.exitCode !== null) return job.exitCode;
      return SIGNAL_BASE + signalNumber(job.signal ?? 'SIGTERM');
    case 'timedout':
      return EXIT.TIMED_OUT;
    case 'failed':
      return /no such file|command not found/i.test(job.error ?? '')
        ? EXIT.COMMAND_NOT_FOUND
        : EXIT.CANNOT_START;
    case 'lost':
      return EXIT.LOST;
    default:
      throw new Error(`job ${job.id} has not ended (status '${job.status}')`);
  }
}

export function signalNumber(name: string): number {
  const number = (constants.signals as Readonly<Record<string, number | undefined>>)[name];
  return number ?? constants.signals.SIGTERM;
}
