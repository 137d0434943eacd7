// Writers of jobs' standard input: one at a time per job, none once the input was ended. A
// writer may ask before its job runs; it then waits until the job is handed to its supervisor
// (or ends without one), since only a running supervisor can open the job's input.
import {
  InputBusyError,
  InputClosedError,
  InputNotOpenError,
  JobAlreadyEndedError,
} from '../errors.ts';
import type { JobHandle, JobInput } from '../launcher/launcher.ts';
import type { Job } from '../jobs/job.ts';
import { hasEnded } from '../jobs/job-status.ts';
import { LaunchWaiters } from './launch-waiters.ts';
import type { Viewer } from './registry-options.ts';

export interface JobInputsOptions {
  /** The job as `viewer` may see it; throws JobNotFoundError otherwise. */
  readonly get: (viewer: Viewer, id: string) => Job;
  /** The job's record, whoever asks. */
  readonly mustGet: (id: string) => Job;
  /** The job's supervisor while it runs. */
  readonly handleOf: (id: string) => JobHandle | undefined;
}

export class JobInputs {
  readonly #options: JobInputsOptions;
  /** Writers of jobs' input waiting for their job to be launched. */
  readonly #launchWaiters = new LaunchWaiters();
  /** Jobs whose input a request is writing (or waiting to): one writer at a time. */
  readonly #writers = new Set<string>();
  /** Running jobs whose input was ended: no writer may follow, even before the FIFO is gone. */
  readonly #ended = new Set<string>();

  constructor(options: JobInputsOptions) {
    this.#options = options;
  }

  /**
   * A writer of a job's input, for its owner (the API decides who may ask). Waits while the job
   * is queued or being launched, until `signal` aborts; one writer at a time per job.
   */
  async open(viewer: Viewer, id: string, signal?: AbortSignal): Promise<JobInput> {
    const { get, mustGet, handleOf } = this.#options;
    if (!get(viewer, id).stdin) throw new InputNotOpenError(id);
    if (this.#ended.has(id)) throw new InputClosedError(id, 'it was ended');
    if (this.#writers.has(id)) throw new InputBusyError(id);
    this.#writers.add(id);
    try {
      let job = mustGet(id);
      while (!hasEnded(job.status) && handleOf(id) === undefined) {
        await this.#launchWaiters.wait(id, signal);
        job = mustGet(id);
      }
      const handle = handleOf(id);
      if (handle === undefined) throw new JobAlreadyEndedError(id, job.status);
      const input = await handle.openInput(id);
      input.stream.once('close', () => this.#writers.delete(id));
      return {
        stream: input.stream,
        end: async () => {
          this.#ended.add(id);
          await input.end();
        },
      };
    } catch (error) {
      this.#writers.delete(id);
      throw error;
    }
  }

  /** The job was handed to its supervisor, or has ended: waiting writers look again. */
  settle(id: string): void {
    this.#launchWaiters.settle(id);
  }

  /** The job's supervisor is gone: what was known of its input goes with it. */
  forget(id: string): void {
    this.#ended.delete(id);
  }
}
