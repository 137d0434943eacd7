// The job registry: the one place that starts, stops, lists and forgets jobs. It records every
// job in the store, hands launching to a Launcher, and answers every query through a Viewer, so a
// client only ever sees the jobs it may see. It knows nothing of HTTP.
import { randomUUID } from 'node:crypto';
import { constants, statSync } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import {
  InsufficientStorageError,
  JobAlreadyEndedError,
  JobNotFoundError,
  JobStillRunningError,
  OutputUnavailableError,
  TooManyJobsError,
  WorkerError,
} from '../errors.ts';
import {
  outcomeWithoutExit,
  type JobHandle,
  type JobOutcome,
  type Launcher,
} from '../launcher/launcher.ts';
import type { JobStore, JobUpdate } from '../store/job-store.ts';
import {
  hasEnded,
  type ClientBudget,
  type Job,
  type JobFilter,
  type JobPage,
  type JobSpec,
  type JobStatus,
  type PageRequest,
} from './job.ts';
import { assertTransition } from './job-state.ts';
import { endedSignal, OutputSignal } from './output-signal.ts';
import { OUTPUT_INDEX, OUTPUT_LOG, OutputStream, type OutputSelection } from './output-stream.ts';

/** Who is asking: their identity, and whether they may see other clients' jobs. */
export interface Viewer {
  readonly name: string;
  readonly seesAll: boolean;
}

export interface RegistryOptions {
  readonly store: JobStore;
  readonly launcher: Launcher;
  readonly dataDir: string;
  readonly logger: Logger;
  /** Time between SIGTERM and SIGKILL when a job is stopped. */
  readonly stopGraceMs: number;
  readonly maxOutputBytes: number;
  /** Ended jobs older than this are deleted with their output; 0 keeps them forever. */
  readonly retentionMs: number;
  /** Jobs one owner may have unfinished at once; more are refused with TOO_MANY_JOBS. */
  readonly maxUnfinishedPerOwner?: number;
  /** Told of every status change after it is stored: how metrics count jobs. */
  readonly onTransition?: (transition: Transition) => void;
}

export interface Transition {
  readonly job: Job;
  readonly from: JobStatus;
  readonly to: JobStatus;
}

export interface OutputRequest {
  readonly select: OutputSelection;
  readonly offset: number;
  readonly follow: boolean;
}

export type ShutdownPolicy = 'leave-running' | 'stop';

interface ActiveJob {
  readonly owner: string;
  readonly handle: JobHandle;
  readonly signal: OutputSignal;
}

const RETENTION_SWEEP_MS = 60 * 60 * 1000;
/** Expired jobs deleted per commit: about 10 ms of the event loop each at 100,000 jobs. */
const EXPIRY_BATCH = 128;
/** How often the end of a job is retried while the disk is too full to record it. */
const END_RECORD_RETRY_MS = 5000;

export class JobRegistry {
  readonly #options: RegistryOptions;
  readonly #store: JobStore;
  readonly #active = new Map<string, ActiveJob>();
  readonly #log: Logger;
  #sweepTimer: NodeJS.Timeout | undefined;
  readonly #retries = new Set<NodeJS.Timeout>();
  #sweeping: Promise<void> | undefined;
  #closed = false;

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#log = options.logger.child({ component: 'registry' });
  }

  /** Re-attaches jobs that were running when the server last stopped; reconciles the ended. */
  async recover(): Promise<void> {
    for (const job of this.#store.unfinished()) {
      const dir = this.#jobDir(job.id);
      const result = await this.#options.launcher.reattach(job.id, dir);
      if (result.kind === 'ended') {
        this.#recordEndOrRetry(job.id, result.outcome);
      } else {
        if (job.status === 'starting')
          this.#transition(job, 'running', { startedAt: new Date().toISOString() });
        this.#supervise(job, result.handle);
        this.#log.info({ jobId: job.id, owner: job.owner }, 'job re-attached after restart');
      }
    }
  }

  /**
   * Deletes expired jobs now and every hour after, in the background. Called once the server
   * serves: a backlog of expired jobs does not delay its start.
   */
  startRetention(): void {
    if (this.#options.retentionMs <= 0 || this.#closed) return;
    this.#sweepExpired();
    this.#sweepTimer = setInterval(() => this.#sweepExpired(), RETENTION_SWEEP_MS);
    this.#sweepTimer.unref();
  }

  async start(owner: string, spec: JobSpec, budget: ClientBudget = { totals: {} }): Promise<Job> {
    // Checked and created in one synchronous step, so concurrent starts cannot both slip past.
    const cap = this.#options.maxUnfinishedPerOwner ?? Infinity;
    if (this.#store.countUnfinished(owner) >= cap) throw new TooManyJobsError(owner, cap);
    const job = this.#create(owner, spec, this.#outputCap(owner, budget));
    const dir = this.#jobDir(job.id);
    let result;
    try {
      await createOutputFiles(dir);
      result = await this.#options.launcher.launch({
        jobId: job.id,
        owner,
        clientTotals: budget.totals,
        dir,
        spec,
        maxOutputBytes: job.outputCapBytes ?? undefined,
      });
    } catch (error) {
      // A request the launcher refuses (a limit it cannot enforce) leaves no trace behind.
      if (error instanceof WorkerError && error.code !== 'LAUNCH_FAILED') {
        this.#store.delete(job.id);
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
      this.#log.error({ err: error, jobId: job.id }, 'job could not be launched');
      this.#recordEnd(job.id, launchFailure(error));
      return this.#mustGet(job.id);
    }
    if (result.kind === 'failed') {
      this.#recordEnd(job.id, result.outcome);
    } else {
      this.#transition(job, 'running', { startedAt: result.handle.startedAt.toISOString() });
      this.#supervise(job, result.handle);
    }
    return this.#mustGet(job.id);
  }

  get(viewer: Viewer, id: string): Job {
    const job = this.#store.get(id);
    if (job === undefined || !canSee(viewer, job)) throw new JobNotFoundError(id);
    return this.#withLiveOutput(job);
  }

  /** A page of the jobs the viewer may see and `filter` selects, newest first. */
  list(viewer: Viewer, filter: Omit<JobFilter, 'owner'>, page: PageRequest): JobPage {
    const scoped: JobFilter = viewer.seesAll ? filter : { ...filter, owner: viewer.name };
    const found = this.#store.list(scoped, page);
    return { ...found, jobs: found.jobs.map((job) => this.#withLiveOutput(job)) };
  }

  /**
   * The store learns a job's output size when it ends; while it runs, the size is what its
   * supervisor has written so far (one stat of the output file).
   */
  #withLiveOutput(job: Job): Job {
    if (!this.#active.has(job.id)) return job;
    const outputBytes = this.#liveOutputBytes(job.id);
    return outputBytes === undefined ? job : { ...job, outputBytes };
  }

  #liveOutputBytes(id: string): number | undefined {
    try {
      return statSync(join(this.#jobDir(id), OUTPUT_LOG)).size;
    } catch {
      return undefined;
    }
  }

  /** Asks a running job to stop; returns at once, the job ends in its own time. */
  async stop(viewer: Viewer, id: string): Promise<Job> {
    const job = this.get(viewer, id);
    const active = this.#active.get(id);
    if (hasEnded(job.status) || active === undefined)
      throw new JobAlreadyEndedError(id, job.status);
    if (job.status === 'running') {
      try {
        this.#transition(job, 'stopping', { stopRequestedAt: new Date().toISOString() });
      } catch (error) {
        // Stopping matters more than recording that it was asked for: the end is recorded.
        if (!(error instanceof InsufficientStorageError)) throw error;
        this.#log.warn({ jobId: id }, 'disk full: stopping the job without recording the request');
      }
    }
    await active.handle.stop(this.#options.stopGraceMs);
    return this.#mustGet(id);
  }

  /** Throws OutputUnavailableError when the job's output files are gone or unreadable. */
  async assertOutputReadable(id: string): Promise<void> {
    const dir = this.#jobDir(id);
    try {
      await Promise.all([
        access(join(dir, OUTPUT_LOG), constants.R_OK),
        access(join(dir, OUTPUT_INDEX), constants.R_OK),
      ]);
    } catch (error) {
      throw new OutputUnavailableError(id, error);
    }
  }

  output(viewer: Viewer, id: string, request: OutputRequest): Readable {
    this.get(viewer, id);
    const signal = this.#active.get(id)?.signal ?? endedSignal();
    return new OutputStream({ dir: this.#jobDir(id), signal, ...request });
  }

  /** Resolves once the job has ended (immediately if it has), with its final record. */
  async whenEnded(viewer: Viewer, id: string): Promise<Job> {
    this.get(viewer, id);
    const signal = this.#active.get(id)?.signal;
    if (signal !== undefined) {
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (signal.ended) resolve();
          else signal.onChangeSince(signal.version, check);
        };
        check();
      });
    }
    return this.#mustGet(id);
  }

  async remove(viewer: Viewer, id: string): Promise<void> {
    const job = this.get(viewer, id);
    if (!hasEnded(job.status)) throw new JobStillRunningError(id);
    await this.#forget(job.id);
  }

  /** Leaves jobs running for the next server (the default) or stops them and waits. */
  async close(policy: ShutdownPolicy): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    await this.#sweeping;
    for (const retry of this.#retries) clearTimeout(retry);
    const active = [...this.#active.entries()];
    if (policy === 'stop') {
      await Promise.all(
        active.map(async ([, { handle }]) => {
          await handle.stop(this.#options.stopGraceMs);
          await handle.ended;
        }),
      );
      return;
    }
    for (const [, { handle }] of active) handle.detach();
  }

  /**
   * The most output a new job of `owner` may keep: the per-job cap, or what is left of the
   * client's budget after the output of its other jobs (ended ones as recorded, running ones as
   * written so far). Jobs running at once may together pass the budget by what each of them was
   * allowed when it started; jobs started after that get nothing until output is deleted.
   */
  #outputCap(owner: string, budget: ClientBudget): number | null {
    const perJob = this.#options.maxOutputBytes > 0 ? this.#options.maxOutputBytes : null;
    if (budget.outputBytes === undefined) return perJob;
    let used = this.#store.outputBytesOf(owner);
    for (const [id, active] of this.#active) {
      if (active.owner === owner) used += this.#liveOutputBytes(id) ?? 0;
    }
    const left = Math.max(0, budget.outputBytes - used);
    return perJob === null ? left : Math.min(perJob, left);
  }

  #create(owner: string, spec: JobSpec, outputCapBytes: number | null): Job {
    const job: Job = {
      id: randomUUID(),
      owner,
      command: spec.command,
      args: spec.args,
      envNames: Object.keys(spec.env).sort(),
      cwd: spec.cwd,
      limits: spec.limits,
      timeoutMs: spec.timeoutMs ?? null,
      sandbox: spec.sandbox,
      image: spec.image ?? null,
      labels: spec.labels,
      status: 'starting',
      exitCode: null,
      signal: null,
      error: null,
      oomKilled: false,
      usage: null,
      outputBytes: 0,
      outputTruncated: false,
      outputCapBytes,
      createdAt: new Date().toISOString(),
      startedAt: null,
      stopRequestedAt: null,
      endedAt: null,
    };
    this.#store.insert(job);
    return job;
  }

  #supervise(job: Job, handle: JobHandle): void {
    const { id, owner } = job;
    const signal = new OutputSignal();
    const unsubscribe = handle.onOutput(() => signal.notify());
    this.#active.set(id, { owner, handle, signal });
    handle.ended
      .catch((error: unknown) => launchFailure(error, 'lost'))
      .then((outcome) => {
        unsubscribe();
        this.#recordEndOrRetry(id, outcome);
      })
      .catch((error: unknown) =>
        this.#log.error({ err: error, jobId: id }, 'could not record job end'),
      )
      .finally(() => {
        this.#active.delete(id);
        signal.end();
      });
  }

  /**
   * A job's end is known once: if the disk is full just then, the record is retried until it
   * fits, so the job does not stay "running" forever.
   */
  #recordEndOrRetry(id: string, outcome: JobOutcome): void {
    try {
      this.#recordEnd(id, outcome);
      return;
    } catch (error) {
      this.#log.error({ err: error, jobId: id }, 'could not record job end');
      if (!(error instanceof InsufficientStorageError) || this.#closed) return;
    }
    const retry = setTimeout(() => {
      this.#retries.delete(retry);
      this.#recordEndOrRetry(id, outcome);
    }, END_RECORD_RETRY_MS);
    this.#retries.add(retry);
  }

  #recordEnd(id: string, outcome: JobOutcome): void {
    const job = this.#mustGet(id);
    if (hasEnded(job.status)) return;
    this.#transition(job, outcome.reason, {
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      error: outcome.error,
      oomKilled: outcome.oomKilled,
      usage: outcome.usage,
      outputBytes: outcome.outputBytes,
      outputTruncated: outcome.outputTruncated,
      endedAt: outcome.endedAt.toISOString(),
      ...(job.startedAt === null && outcome.startedAt !== null
        ? { startedAt: outcome.startedAt.toISOString() }
        : {}),
    });
  }

  /** How many jobs there are in each status, for metrics. */
  countByStatus(): Map<JobStatus, number> {
    return this.#store.countByStatus();
  }

  #transition(job: Job, to: JobStatus, changes: JobUpdate): void {
    assertTransition(job.status, to);
    this.#store.update(job.id, { ...changes, status: to });
    this.#options.onTransition?.({ job: this.#mustGet(job.id), from: job.status, to });
    this.#log.info(
      {
        jobId: job.id,
        owner: job.owner,
        from: job.status,
        to,
        ...(changes.exitCode === undefined ? {} : { exitCode: changes.exitCode }),
        ...(changes.signal === undefined ? {} : { signal: changes.signal }),
        ...(changes.error === undefined || changes.error === null ? {} : { error: changes.error }),
      },
      'job transition',
    );
  }

  /** Starts deleting expired jobs in the background, unless a sweep is still under way. */
  #sweepExpired(): void {
    if (this.#options.retentionMs <= 0 || this.#sweeping !== undefined) return;
    this.#sweeping = this.#deleteExpired()
      .catch((error: unknown) => this.#log.warn({ err: error }, 'could not delete expired jobs'))
      .finally(() => {
        this.#sweeping = undefined;
      });
  }

  /**
   * Deletes expired jobs a batch at a time: one commit per batch (one sync of the disk, a few
   * milliseconds of the event loop), their directories removed off the event loop, and the
   * requests that arrived meanwhile served before the next batch.
   */
  async #deleteExpired(): Promise<void> {
    const cutoff = new Date(Date.now() - this.#options.retentionMs).toISOString();
    let deleted = 0;
    while (!this.#closed) {
      const ids = this.#store.endedBefore(cutoff, EXPIRY_BATCH);
      if (ids.length === 0) break;
      this.#store.deleteMany(ids);
      deleted += ids.length;
      await Promise.all(
        ids.map((id) =>
          rm(this.#jobDir(id), { recursive: true, force: true }).catch((error: unknown) =>
            this.#log.warn({ err: error, jobId: id }, 'could not delete the output of a job'),
          ),
        ),
      );
      await setImmediate();
    }
    if (deleted > 0) this.#log.info({ count: deleted }, 'expired jobs deleted');
  }

  async #forget(id: string): Promise<void> {
    this.#store.delete(id);
    await rm(this.#jobDir(id), { recursive: true, force: true });
    this.#log.info({ jobId: id }, 'job deleted');
  }

  #mustGet(id: string): Job {
    const job = this.#store.get(id);
    if (job === undefined) throw new JobNotFoundError(id);
    return job;
  }

  #jobDir(id: string): string {
    return join(this.#options.dataDir, 'jobs', id);
  }
}

/** Empty output files exist from the start, so readers never race the supervisor's first write. */
async function createOutputFiles(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, OUTPUT_LOG), '', { flag: 'a', mode: 0o600 });
  await writeFile(join(dir, OUTPUT_INDEX), '', { flag: 'a', mode: 0o600 });
}

function canSee(viewer: Viewer, job: Job): boolean {
  return viewer.seesAll || job.owner === viewer.name;
}

function launchFailure(error: unknown, reason: 'failed' | 'lost' = 'failed'): JobOutcome {
  return outcomeWithoutExit(reason, error instanceof Error ? error.message : String(error));
}
