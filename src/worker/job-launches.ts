// Launching a recorded job through the Launcher, and supervising it until it ends: the jobs a
// supervisor runs now, their handles and output signals, and the stops asked for while a job was
// being launched. A job's end is recorded here, and frees its slot for the queue.
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import {
  CodedError,
  CommandCannotRunError,
  CommandNotFoundError,
  JobAlreadyEndedError,
} from '../errors.ts';
import type { JobHandle, Launcher } from '../launcher/launcher.ts';
import type { JobStore } from '../store/job-store.ts';
import type { Job, JobSpec, ResourceLimits } from '../jobs/job.ts';
import type { JobInputs } from './job-inputs.ts';
import { createOutputFiles, type JobOutputs } from './job-outputs.ts';
import { launchFailure, type JobRecords } from './job-records.ts';
import { OutputSignal } from './output-signal.ts';
import { forgetEnvironment, keepEnvironment } from './pending-environment.ts';
import type { Viewer } from './registry-options.ts';
import type { Revocation } from './revocation.ts';

/** A job its supervisor runs now. */
export interface SupervisedJob {
  readonly owner: string;
  readonly handle: JobHandle;
  readonly signal: OutputSignal;
}

export interface JobLaunchesOptions {
  readonly launcher: Launcher;
  readonly store: JobStore;
  readonly log: Logger;
  readonly records: JobRecords;
  readonly outputs: JobOutputs;
  readonly inputs: JobInputs;
  readonly revocation: Revocation;
  /** Output stops for good below this much free disk (the disk's floor); 0 for never. */
  readonly minFreeDiskBytes: number;
  readonly jobDir: (id: string) => string;
  /** A slot or memory may have freed: the queue's next job may start. */
  readonly drain: () => void;
  readonly stop: (viewer: Viewer, id: string) => Promise<Job>;
}

export class JobLaunches {
  readonly #options: JobLaunchesOptions;
  readonly #log: Logger;
  readonly #active = new Map<string, SupervisedJob>();
  /** Jobs asked to stop while being launched. */
  readonly #stopOnceLaunched = new Set<string>();

  constructor(options: JobLaunchesOptions) {
    this.#options = options;
    this.#log = options.log;
  }

  /** The job while its supervisor runs it; undefined before it is launched and once it ended. */
  supervised(id: string): SupervisedJob | undefined {
    return this.#active.get(id);
  }

  /** Every job supervised now, for a server that stops. */
  allSupervised(): SupervisedJob[] {
    return [...this.#active.values()];
  }

  /** A job being launched is stopped as soon as its supervisor is there. */
  stopOnceLaunched(id: string): void {
    this.#stopOnceLaunched.add(id);
  }

  /** Forgets a stop asked for while the job was being launched. */
  forgetStopRequest(id: string): void {
    this.#stopOnceLaunched.delete(id);
  }

  /**
   * Launches a recorded job, one a request asked for just now or one that waited in the queue. A
   * launcher's refusal (a limit this host cannot enforce, an image that is gone) is thrown back
   * to the request and leaves no trace; a queued job, whose request was answered long ago, ends
   * `failed` with the reason.
   */
  async launch(
    job: Job,
    spec: JobSpec,
    clientTotals: ResourceLimits,
    from: 'request' | 'queue',
  ): Promise<Job> {
    const dir = this.#options.jobDir(job.id);
    let result;
    try {
      // A queued job's files were written when it was queued (or found again at a restart).
      if (from === 'request') {
        createOutputFiles(dir);
        // Until the supervisor has it, a restart must find it: the job may go back to the queue.
        await keepEnvironment(dir, spec.env);
      }
      result = await this.#options.launcher.launch({
        jobId: job.id,
        owner: job.owner,
        clientTotals,
        dir,
        spec,
        maxOutputBytes: job.outputCapBytes ?? undefined,
        minFreeDiskBytes: this.#options.minFreeDiskBytes,
      });
    } catch (error) {
      if (error instanceof CodedError && error.code !== 'LAUNCH_FAILED' && from === 'request') {
        this.#options.store.delete(job.id);
        await rm(dir, { recursive: true, force: true });
        this.#options.drain();
        throw error;
      }
      // A command that cannot run is its owner's mistake, told in the job's error, not the log's.
      const unrunnable =
        error instanceof CommandNotFoundError || error instanceof CommandCannotRunError;
      this.#log[unrunnable ? 'info' : 'error'](
        { err: error, jobId: job.id, client: job.owner },
        'job could not be launched',
      );
      result = { kind: 'failed' as const, outcome: launchFailure(error) };
    }
    await forgetEnvironment(dir, Object.keys(spec.env));
    const signal = this.#options.outputs.takeWaiting(job.id);
    if (result.kind === 'failed') {
      this.#options.records.recordEndOrRetry(job.id, result.outcome);
      signal?.end();
      this.#options.drain();
    } else {
      this.#options.records.transition(job, 'running', {
        startedAt: result.handle.startedAt.toISOString(),
      });
      this.supervise(job, result.handle, signal);
      // A stop asked for while it was being launched is carried out now.
      if (this.#stopOnceLaunched.delete(job.id)) {
        await this.#options
          .stop({ name: job.owner, seesAll: false }, job.id)
          .catch((error: unknown) => {
            if (!(error instanceof JobAlreadyEndedError)) throw error;
          });
      }
      // Revoked while it was being launched: endJobsOfRevoked passed it over then.
      const revoked = this.#options.revocation.revokedSerialOf(job);
      if (revoked !== undefined) {
        await this.#options.revocation.endRunning(
          this.#options.records.mustGet(job.id),
          revoked,
          new Set(),
        );
      }
    }
    return this.#options.records.mustGet(job.id);
  }

  supervise(job: Job, handle: JobHandle, signal = new OutputSignal()): void {
    const { id, owner } = job;
    const unsubscribe = handle.onOutput(() => signal.notify());
    this.#active.set(id, { owner, handle, signal });
    this.#options.inputs.settle(id);
    handle.ended
      .catch((error: unknown) => launchFailure(error, 'lost'))
      .then((outcome) => {
        unsubscribe();
        this.#options.records.recordEndOrRetry(id, outcome);
      })
      .catch((error: unknown) =>
        this.#log.error({ err: error, jobId: id }, 'could not record job end'),
      )
      .finally(() => {
        this.#active.delete(id);
        this.#options.inputs.forget(id);
        signal.end();
        // A slot and its memory are free: the queue's next job may start.
        this.#options.drain();
      });
  }
}
