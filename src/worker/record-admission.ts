// What every new job record passes before it is written, queued or started: the data disk above
// the floor the server keeps free, the client within what the records of its jobs may hold, and
// the client within its rate of new jobs. A job's record (its command line, its environment
// variable names) stays in the database and the audit trail until the job is deleted, so without
// these a client grew both at 3.5 MiB/s with jobs of `true` and a long argument, outside any
// budget. Admission of the job itself (slots, memory, output) is another matter, decided later.
import { RecordAllowanceExceededError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import { recordCostOf, type JobStore } from '../store/job-store.ts';
import { roughBytes } from '../util/quantities.ts';
import { DiskFloor } from './disk-floor.ts';
import { JobRate } from './job-rate.ts';

export interface RecordLimits {
  /** Free bytes the data disk keeps; 0 for no floor. */
  readonly minFreeDiskBytes: number;
  /** Bytes the records of one client's jobs may hold together; undefined for no allowance. */
  readonly recordBytesPerClient: number | undefined;
  /** Jobs one client may create a minute; undefined for no limit. */
  readonly jobsPerMinutePerClient: number | undefined;
}

export class RecordAdmission {
  readonly floor: DiskFloor;
  readonly #store: JobStore;
  readonly #allowance: number | undefined;
  readonly #rate: JobRate | undefined;

  constructor(store: JobStore, dataDir: string, limits: RecordLimits) {
    this.#store = store;
    this.floor = new DiskFloor(dataDir, limits.minFreeDiskBytes);
    this.#allowance = limits.recordBytesPerClient;
    this.#rate =
      limits.jobsPerMinutePerClient === undefined
        ? undefined
        : new JobRate(limits.jobsPerMinutePerClient);
  }

  /**
   * Throws the reason a new job's record may not be written: DiskBelowFloorError and
   * RecordAllowanceExceededError (507), JobRateExceededError (429). The rate is asked last, so a
   * record refused for another reason costs its client no turn.
   */
  admit(job: Pick<Job, 'owner' | 'command' | 'args' | 'envNames'>): void {
    this.floor.assertAbove();
    this.#assertWithinAllowance(job);
    this.#rate?.take(job.owner);
  }

  #assertWithinAllowance(job: Pick<Job, 'owner' | 'command' | 'args' | 'envNames'>): void {
    const allowance = this.#allowance;
    if (allowance === undefined) return;
    const kept = this.#store.recordBytesOf(job.owner);
    const cost = recordCostOf(job);
    if (kept + cost > allowance) {
      throw new RecordAllowanceExceededError(
        job.owner,
        roughBytes(kept),
        roughBytes(cost),
        roughBytes(allowance),
      );
    }
  }
}
