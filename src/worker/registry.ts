// The job registry: the one place that starts, queues, stops, lists and forgets jobs. It records
// every job in the store, hands launching to a Launcher, and answers every query through a
// Viewer, so a client only ever sees the jobs it may see. A job that admission (admission.ts)
// does not let start now waits in the queue, which is the store's: it survives a restart in the
// same order. It knows nothing of HTTP. It composes one module per concern: the records
// (job-records.ts), admission and the queue (admission-queue.ts, queued-jobs.ts), launching and
// supervision (job-launches.ts), inputs (job-inputs.ts), output readers (job-outputs.ts),
// retention, recovery and revocation; what is left here is what clients ask of their jobs.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import {
  InsufficientStorageError,
  JobAlreadyEndedError,
  JobNotFoundError,
  JobStillRunningError,
  NoCapacityNowError,
  NotATerminalError,
  TooManyJobsError,
} from '../errors.ts';
import type { JobInput } from '../launcher/launcher.ts';
import type { JobStore } from '../store/job-store.ts';
import type {
  ClientBudget,
  Job,
  JobFilter,
  JobPage,
  JobSpec,
  PageRequest,
  ShutdownPolicy,
  TerminalSize,
} from '../jobs/job.ts';
import { hasEnded, type JobStatus } from '../jobs/job-status.ts';
import type { Capacity } from '../jobs/protections.ts';
import { namesVolume } from '../jobs/volume-mounts.ts';
import {
  budgetSpentError,
  StoreAdmissionQueue,
  type AdmissionQueue,
  type QueuePlace,
} from './admission-queue.ts';
import { JobInputs } from './job-inputs.ts';
import { JobLaunches } from './job-launches.ts';
import { JobOutputs, untilEnded, type ChunksRequest } from './job-outputs.ts';
import { JobRecords } from './job-records.ts';
import type { OutputChunkStream, OutputSelection } from './output-stream.ts';
import type { TimedOutputOptions } from './output-times.ts';
import { QueuedJobs } from './queued-jobs.ts';
import { RecordAdmission } from './record-admission.ts';
import { recoverJobs } from './recovery.ts';
import {
  canSee,
  type OutputRequest,
  type RegistryOptions,
  type StartOptions,
  type Viewer,
} from './registry-options.ts';
import { Retention } from './retention.ts';
import { Revocation } from './revocation.ts';

export type { JobInput } from '../launcher/launcher.ts';
export type {
  DequeueEvent,
  OutputRequest,
  RegistryOptions,
  RevokedJobEvent,
  StartOptions,
  Transition,
  Viewer,
} from './registry-options.ts';

export class JobRegistry {
  readonly #options: RegistryOptions;
  readonly #store: JobStore;
  readonly #log: Logger;
  /** What each new job record passes: the disk's floor, its client's allowance and job rate. */
  readonly #recordAdmission: RecordAdmission;
  readonly #records: JobRecords;
  readonly #queue: AdmissionQueue;
  readonly #queued: QueuedJobs;
  readonly #inputs: JobInputs;
  readonly #outputs: JobOutputs;
  readonly #retention: Retention;
  readonly #revocation: Revocation;
  readonly #launches: JobLaunches;

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#store = options.store;
    const log = options.logger.child({ component: 'registry' });
    this.#log = log;
    const jobDir = (id: string): string => this.#jobDir(id);
    this.#recordAdmission = new RecordAdmission(options.store, options.dataDir, {
      minFreeDiskBytes: options.minFreeDiskBytes ?? 0,
      recordBytesPerClient: options.recordBytesPerClient,
      jobsPerMinutePerClient: options.jobsPerMinutePerClient,
    });
    this.#records = new JobRecords({
      store: options.store,
      log,
      admission: this.#recordAdmission,
      ...(options.revokedSerials === undefined ? {} : { revokedSerials: options.revokedSerials }),
      onTransition: (transition) => {
        options.onTransition?.(transition);
        if (hasEnded(transition.to)) this.#inputs.settle(transition.job.id);
      },
    });
    this.#queue = new StoreAdmissionQueue(options.store, options);
    this.#inputs = new JobInputs({
      get: (viewer, id) => this.get(viewer, id),
      mustGet: (id) => this.#records.mustGet(id),
      handleOf: (id) => this.#launches.supervised(id)?.handle,
    });
    this.#outputs = new JobOutputs({
      jobDir,
      supervisedSignal: (id) => this.#launches.supervised(id)?.signal,
    });
    this.#retention = new Retention({
      store: options.store,
      log,
      retentionMs: options.retentionMs,
      jobDir,
    });
    this.#revocation = new Revocation({
      store: options.store,
      log,
      policy: options,
      isBeingQueued: (id) => this.#queue.isHeldBack(id),
      mustGet: (id) => this.#records.mustGet(id),
      endQueued: (job, why) => this.#queued.endQueued(job, why),
      forgetStopRequest: (id) => this.#launches.forgetStopRequest(id),
      stop: (viewer, id, why) => this.stop(viewer, id, why),
    });
    this.#queued = new QueuedJobs({
      store: options.store,
      log,
      queue: this.#queue,
      records: this.#records,
      outputs: this.#outputs,
      revocation: this.#revocation,
      floor: this.#recordAdmission.floor,
      onDequeue: options.onDequeue,
      jobDir,
      launch: (job, spec, clientTotals) => this.#launches.launch(job, spec, clientTotals, 'queue'),
      present: (job) => this.#present(job),
    });
    this.#launches = new JobLaunches({
      launcher: options.launcher,
      store: options.store,
      log,
      records: this.#records,
      outputs: this.#outputs,
      inputs: this.#inputs,
      revocation: this.#revocation,
      minFreeDiskBytes: this.#recordAdmission.floor.bytes,
      jobDir,
      drain: () => this.#queued.drain(),
      stop: (viewer, id) => this.stop(viewer, id),
    });
  }

  /** Re-attaches jobs that were running when the server last stopped; reconciles the ended. */
  async recover(): Promise<void> {
    await recoverJobs({
      store: this.#store,
      launcher: this.#options.launcher,
      log: this.#log,
      jobDir: (id) => this.#jobDir(id),
      transition: (job, to, changes) => this.#records.transition(job, to, changes),
      recordEndOrRetry: (id, outcome) => this.#records.recordEndOrRetry(id, outcome),
      supervise: (job, handle) => this.#launches.supervise(job, handle),
      armQueueTimeout: (job) => this.#queued.armTimeout(job),
    });
    this.#queued.drain();
  }

  /**
   * Deletes expired jobs now and every hour after, in the background. Called once the server
   * serves: a backlog of expired jobs does not delay its start.
   */
  startRetention(): void {
    this.#retention.start();
  }

  /**
   * Starts a job now, or queues it when admission (admission.ts) says it cannot start yet. With
   * `queue: false`, a job that cannot start now is refused instead; a client whose ended jobs
   * keep its whole output budget is refused either way.
   */
  async start(
    owner: string,
    spec: JobSpec,
    budget: ClientBudget = { totals: {} },
    options: StartOptions = {},
  ): Promise<Job> {
    // Checked and created in one synchronous step, so concurrent starts cannot both slip past.
    const admission = this.#queue.admitRequest(owner, spec.limits, budget, options.queue !== false);
    if (!admission.start) {
      if ('budgetSpent' in admission) throw budgetSpentError(owner, admission.budgetSpent);
      if (options.queue !== false)
        return this.#queued.enqueue(owner, spec, budget, options.clientSerial);
      if (admission.reason.code === 'running-cap') {
        throw new TooManyJobsError(owner, this.#options.maxUnfinishedPerOwner ?? Infinity);
      }
      throw new NoCapacityNowError(admission.reason.message);
    }
    const job = this.#records.create(
      owner,
      spec,
      admission.outputCapBytes,
      'starting',
      budget,
      options.clientSerial,
    );
    // The record reaches the disk while the job is launched; the answer waits for both.
    const [, started] = await Promise.all([
      this.#store.sync(),
      this.#launches.launch(job, spec, budget.totals, 'request'),
    ]);
    return started;
  }

  /** What the host gives jobs and how much of it running jobs reserve. */
  capacity(): Capacity {
    return this.#queue.capacity();
  }

  get(viewer: Viewer, id: string): Job {
    const job = this.#store.get(id);
    if (job === undefined || !canSee(viewer, job)) throw new JobNotFoundError(id);
    return this.#present(job);
  }

  /**
   * A page of the jobs the viewer may see and `filter` selects, newest first: where they are,
   * for `listed` to read a few at a time.
   */
  list(viewer: Viewer, filter: Omit<JobFilter, 'owner'>, page: PageRequest): JobPage {
    const scoped: JobFilter = viewer.seesAll ? filter : { ...filter, owner: viewer.name };
    return this.#store.list(scoped, page);
  }

  /** The jobs at these positions of a page `list` gave; a job deleted since is left out. */
  listed(viewer: Viewer, positions: readonly number[]): Job[] {
    // One snapshot for all the queued jobs read together, taken only if there is one.
    const placeOf = this.#queue.placesOfQueued();
    return this.#store
      .atPositions(positions)
      .filter((job) => canSee(viewer, job))
      .map((job) => this.#present(job, placeOf));
  }

  /**
   * A job as clients see it. The store learns a job's output size when it ends; while it runs,
   * the size is what its supervisor has written so far (one stat of the output file). A queued
   * job's place in its client's queue, and why it waits, are worked out when asked for.
   */
  #present(job: Job, placeOf?: (job: Job) => QueuePlace): Job {
    if (job.status === 'queued') {
      return { ...job, ...(placeOf ?? this.#queue.placesOfQueued())(job) };
    }
    const active = this.#launches.supervised(job.id);
    if (active === undefined) return job;
    const outputBytes = this.#outputs.liveBytes(job.id);
    const live = active.handle.liveUsage();
    // Live while it runs: its cgroup's counters, read at once (a few bytes the kernel makes up).
    const usage =
      live === undefined ? job.usage : { ...job.usage, ...live, memoryBytes: live.memoryBytes };
    return { ...job, usage, ...(outputBytes === undefined ? {} : { outputBytes }) };
  }

  /**
   * Asks a running job to stop; returns at once, the job ends in its own time. `why`, when the
   * server itself stops it, is kept in the job's `error`.
   */
  async stop(viewer: Viewer, id: string, why?: string): Promise<Job> {
    const job = this.get(viewer, id);
    if (job.status === 'queued') {
      this.#queued.endQueued(job, why ?? 'stopped while queued; it never started');
      return this.#records.mustGet(id);
    }
    const active = this.#launches.supervised(id);
    if (job.status === 'starting' && active === undefined) {
      // Being launched: stopped as soon as its supervisor is there.
      this.#launches.stopOnceLaunched(id);
      return job;
    }
    if (hasEnded(job.status) || active === undefined)
      throw new JobAlreadyEndedError(id, job.status);
    if (job.status === 'running') {
      try {
        this.#records.transition(job, 'stopping', {
          stopRequestedAt: new Date().toISOString(),
          ...(why === undefined ? {} : { error: why }),
        });
      } catch (error) {
        // Stopping matters more than recording that it was asked for: the end is recorded.
        if (!(error instanceof InsufficientStorageError)) throw error;
        this.#log.warn(
          { jobId: id, client: job.owner },
          'disk full: stopping the job without recording the request',
        );
      }
    }
    await active.handle.stop(this.#options.stopGraceMs);
    return this.#records.mustGet(id);
  }

  /**
   * Ends what revoked certificates started; told whenever the CRL in force revokes more, and once
   * at start. Their queued jobs never start (they end `stopped`, the revocation in their
   * `error`); their running jobs are stopped with the usual grace, or run on under `onRevoke:
   * 'leave'`. A job being launched is left to queued-jobs.ts and job-launches.ts, which check again; a job
   * recorded without a serial is out of reach.
   */
  async endJobsOfRevoked(serials: ReadonlySet<string>): Promise<void> {
    await this.#revocation.endJobsOf(serials);
  }

  /** Throws OutputUnavailableError when the job's output files are gone or unreadable. */
  async assertOutputReadable(id: string): Promise<void> {
    await this.#outputs.assertReadable(id);
  }

  /** How much output each stream of a job has so far, to read from there on. */
  async outputSizes(viewer: Viewer, id: string): Promise<Record<OutputSelection, number>> {
    this.get(viewer, id);
    return this.#outputs.sizes(id);
  }

  output(viewer: Viewer, id: string, request: OutputRequest): Readable {
    return this.#outputs.bytes(this.get(viewer, id), viewer.name, request);
  }

  /**
   * A job's whole output in the order it was written, each piece with its stream; `offset`
   * counts bytes of the whole output (`outputSizes().all` is its current end).
   */
  outputChunks(viewer: Viewer, id: string, request: ChunksRequest): OutputChunkStream {
    return this.#outputs.chunks(this.get(viewer, id), request);
  }

  /**
   * A job's output from the first piece written at or after `sinceNanos`, each line prefixed with
   * its time when asked (output-times.ts): bytes, or chunks with their stream.
   */
  timedOutput(viewer: Viewer, id: string, request: OutputRequest & TimedOutputOptions): Readable {
    const { sinceNanos, timestamps, asBytes, ...read } = request;
    const job = this.get(viewer, id);
    const chunks = this.#outputs.chunks(job, read);
    return this.#outputs.timed(job, chunks, {
      ...(sinceNanos === undefined ? {} : { sinceNanos }),
      timestamps,
      asBytes,
    });
  }

  /**
   * A writer of a job's input, for its owner (the API decides who may ask). Waits while the job
   * is queued or being launched, until `signal` aborts; one writer at a time per job.
   */
  openInput(viewer: Viewer, id: string, signal?: AbortSignal): Promise<JobInput> {
    return this.#inputs.open(viewer, id, signal);
  }

  /**
   * Sets the size of a job's terminal (the API decides who may). A job not yet launched keeps
   * the size it was started with, and one that has ended has nothing to resize.
   */
  async resize(viewer: Viewer, id: string, size: TerminalSize): Promise<void> {
    const job = this.get(viewer, id);
    if (job.tty === null) throw new NotATerminalError(id);
    await this.#launches.supervised(id)?.handle.resize(size);
  }

  /** Resolves once the job has ended (immediately if it has), with its final record. */
  async whenEnded(viewer: Viewer, id: string): Promise<Job> {
    const signal = this.#outputs.signalOf(this.get(viewer, id));
    if (!signal.ended) await untilEnded(signal);
    return this.#records.mustGet(id);
  }

  async remove(viewer: Viewer, id: string): Promise<void> {
    const job = this.get(viewer, id);
    if (!hasEnded(job.status)) throw new JobStillRunningError(id);
    this.#store.delete(job.id);
    // The client is told its job is gone: after a power loss it must not come back.
    await this.#store.sync();
    await rm(this.#jobDir(job.id), { recursive: true, force: true });
    this.#log.info({ jobId: job.id }, 'job deleted');
  }

  /**
   * Whether a queued or unended job of `client` mounts its volume `name`, which is then not
   * removed (409 VOLUME_IN_USE). Read from the store's unended jobs (its status index), so a job
   * being launched counts, and one queued before a restart too.
   */
  volumeInUse(client: string, name: string): boolean {
    return [...this.#store.unfinished(), ...this.#store.queued()].some(
      (job) => job.owner === client && namesVolume(job.volumes, name),
    );
  }

  /** How many jobs there are in each status, for metrics. */
  countByStatus(): Map<JobStatus, number> {
    return this.#store.countByStatus();
  }

  /** When the job longest in the queue was queued, for metrics; undefined while none is. */
  oldestQueuedAt(): Date | undefined {
    return this.#store.oldestQueuedAt();
  }

  /** Leaves jobs running for the next server (the default) or stops them and waits. */
  async close(policy: ShutdownPolicy): Promise<void> {
    this.#records.close();
    const sweeping = this.#retention.close();
    const draining = this.#queued.close();
    // A launch under way finishes; queued jobs stay in the store for the next server.
    await Promise.all([sweeping, draining]);
    this.#records.clearRetries();
    const active = this.#launches.allSupervised();
    if (policy === 'stop') {
      await Promise.all(
        active.map(async ({ handle }) => {
          await handle.stop(this.#options.stopGraceMs);
          await handle.ended;
        }),
      );
      return;
    }
    for (const { handle } of active) handle.detach();
  }

  #jobDir(id: string): string {
    return join(this.#options.dataDir, 'jobs', id);
  }
}
