// The queued side of a job's life: accepted into the queue (its files written, its timeout
// armed), taken off it when its turn comes (admission-queue.ts chooses, queue-drain.ts loops),
// or ended there without ever running: stopped, timed out, its budget spent or its certificate
// revoked. Launching is the registry's, as for a job a request starts at once.
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { InsufficientStorageError } from '../errors.ts';
import type { JobStore } from '../store/job-store.ts';
import type { ClientBudget, Job, JobSpec, ResourceLimits } from '../jobs/job.ts';
import { specOfRecord } from '../jobs/job-spec.ts';
import { budgetSpentError, type AdmissionQueue, type QueueTurn } from './admission-queue.ts';
import type { DiskFloor } from './disk-floor.ts';
import { createOutputFiles, type JobOutputs } from './job-outputs.ts';
import { launchFailure, type JobRecords } from './job-records.ts';
import { forgetEnvironment, keepEnvironment, keptEnvironment } from './pending-environment.ts';
import { QueueDrain } from './queue-drain.ts';
import { QueueTimeouts } from './queue-timeouts.ts';
import type { RegistryOptions } from './registry-options.ts';
import type { Revocation } from './revocation.ts';

export interface QueuedJobsOptions {
  readonly store: JobStore;
  readonly log: Logger;
  readonly queue: AdmissionQueue;
  readonly records: JobRecords;
  readonly outputs: JobOutputs;
  readonly revocation: Revocation;
  /** Below it, no queued job starts: the queue waits in place. */
  readonly floor: DiskFloor;
  readonly onDequeue: RegistryOptions['onDequeue'];
  readonly jobDir: (id: string) => string;
  /** Launches a job taken off the queue (the registry's, as for a request's). */
  readonly launch: (job: Job, spec: JobSpec, clientTotals: ResourceLimits) => Promise<unknown>;
  /** A job as its client sees it. */
  readonly present: (job: Job) => Job;
}

export class QueuedJobs {
  readonly #options: QueuedJobsOptions;
  readonly #log: Logger;
  readonly #drain: QueueDrain<QueueTurn>;
  readonly #timeouts: QueueTimeouts;

  constructor(options: QueuedJobsOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#drain = new QueueDrain({
      log: options.log,
      floor: options.floor,
      nextTurn: () => options.queue.nextTurn(),
      startTurn: (turn) => this.#startTurn(turn),
    });
    this.#timeouts = new QueueTimeouts((job) => this.#timedOut(job));
  }

  /** Starts queued jobs while admission lets them: a slot, memory or space may have freed. */
  drain(): void {
    this.#drain.drain();
  }

  /** Arms the queue timeout of a job found queued at a restart. */
  armTimeout(job: Job): void {
    this.#timeouts.arm(job);
  }

  /** Starts no more queued jobs; resolves once a launch under way has finished. */
  close(): Promise<void> {
    const draining = this.#drain.close();
    this.#timeouts.close();
    return draining;
  }

  /** Records a job that cannot start now and queues it; throws QueueFullError past the cap. */
  async enqueue(
    owner: string,
    spec: JobSpec,
    budget: ClientBudget,
    clientSerial: string | undefined,
  ): Promise<Job> {
    this.#options.queue.assertRoomFor(owner);
    // Its output cap is worked out when it launches; until then it shows the per-job cap.
    const cap = this.#options.queue.perJobOutputCap();
    const job = this.#options.records.create(owner, spec, cap, 'queued', budget, clientSerial);
    const dir = this.#options.jobDir(job.id);
    // The drain passes it (and so its client's later jobs) over until its files are written.
    this.#options.queue.holdBack(job.id);
    try {
      createOutputFiles(dir);
      await keepEnvironment(dir, spec.env);
    } catch (error) {
      this.#options.store.delete(job.id);
      await rm(dir, { recursive: true, force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new InsufficientStorageError(error);
      }
      throw error;
    } finally {
      this.#options.queue.release(job.id);
    }
    // Revoked while its files were written: endJobsOfRevoked passed it over then.
    const revoked = this.#options.revocation.revokedSerialOf(job);
    if (revoked !== undefined) this.#options.revocation.neverStart(job.id, revoked);
    await this.#options.store.sync();
    if (revoked === undefined) this.#timeouts.arm(job);
    this.#log.info({ jobId: job.id, client: owner }, 'job queued');
    // Its own turn may have come already: a slot or memory freed while it was being written.
    this.drain();
    return this.#options.present(this.#options.records.mustGet(job.id));
  }

  /**
   * Takes a job off the queue. It becomes `starting`, with the output cap admission gave it, in
   * the same synchronous step that chose it, so its slot, memory and output are taken before
   * anything else runs: no request can stop it as a queued job, or take what it was chosen for,
   * while its environment is read. One whose client's output budget is spent fails instead.
   */
  async #startTurn({ job, clientTotals, admission }: QueueTurn): Promise<void> {
    const revoked = this.#options.revocation.revokedSerialOf(job);
    if (revoked !== undefined) {
      this.#options.revocation.neverStart(job.id, revoked);
      return;
    }
    if (!admission.start) {
      // Only deleting output frees what ended jobs keep: it would wait for ever.
      const why = budgetSpentError(job.owner, admission.budgetSpent).message;
      this.endQueued(job, `${why}; it never started`, 'failed');
      return;
    }
    this.#options.records.transition(job, 'starting', { outputCapBytes: admission.outputCapBytes });
    this.#timeouts.clear(job.id);
    this.#options.queue.served(job.owner);
    this.#options.onDequeue?.({
      job,
      outcome: 'started',
      waitedMs: Date.now() - Date.parse(job.createdAt),
    });
    const env = await keptEnvironment(this.#options.jobDir(job.id), job.envNames);
    if (env === undefined) {
      this.#failUnstarted(job.id, 'its environment was lost while it was queued');
      return;
    }
    try {
      // Its leaving the queue reaches the disk before it can run: after a power loss it must not
      // be found queued again and run a second time.
      await this.#options.store.sync();
    } catch (error) {
      this.#log.error(
        { err: error, jobId: job.id, client: job.owner },
        'could not sync the job store',
      );
      this.#failUnstarted(job.id, 'the server could not write its records to disk');
      return;
    }
    // Revoked while its environment was read: told or not yet, the registry starts nothing of it.
    const revokedMeanwhile = this.#options.revocation.revokedSerialOf(job);
    if (revokedMeanwhile !== undefined) {
      this.#options.revocation.neverStart(job.id, revokedMeanwhile);
      return;
    }
    await this.#options.launch(
      this.#options.records.mustGet(job.id),
      specOfRecord(job, env),
      clientTotals,
    );
  }

  /** A job taken off the queue that will not run after all. */
  #failUnstarted(id: string, why: string): void {
    this.#options.records.recordEndOrRetry(id, launchFailure(why));
    this.#options.outputs.endWaiting(id);
    this.drain();
  }

  #timedOut(job: Job): void {
    try {
      const current = this.#options.store.get(job.id);
      if (current?.status !== 'queued') return;
      const seconds = Math.round((job.queueTimeoutMs ?? 0) / 1000);
      this.endQueued(
        current,
        `waited longer than its queue timeout (${seconds}s); it never started`,
      );
      this.#options.onDequeue?.({
        job: current,
        outcome: 'timed out',
        waitedMs: Date.now() - Date.parse(job.createdAt),
      });
    } catch (error) {
      // A full disk: the job stays queued, and the next start of the server arms it again.
      this.#log.error(
        { err: error, jobId: job.id, client: job.owner },
        'could not end a job past its queue timeout',
      );
    }
  }

  /** Ends a queued job as `stopped` (or `failed`) without ever running it. */
  endQueued(job: Job, why: string, status: 'stopped' | 'failed' = 'stopped'): void {
    this.#timeouts.clear(job.id);
    this.#options.records.transition(job, status, {
      error: why,
      endedAt: new Date().toISOString(),
    });
    this.#options.outputs.endWaiting(job.id);
    forgetEnvironment(this.#options.jobDir(job.id), job.envNames).catch((error: unknown) =>
      this.#log.warn(
        { err: error, jobId: job.id, client: job.owner },
        'could not delete a kept environment',
      ),
    );
  }
}
