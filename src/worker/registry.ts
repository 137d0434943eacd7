// The job registry: the one place that starts, queues, stops, lists and forgets jobs. It records
// every job in the store, hands launching to a Launcher, and answers every query through a
// Viewer, so a client only ever sees the jobs it may see. A job that admission (admission.ts)
// does not let start now waits in the queue, which is the store's: it survives a restart in the
// same order. It knows nothing of HTTP.
import { randomUUID } from 'node:crypto';
import { constants, statSync } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { pipeline, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import {
  CertificateRevokedError,
  CommandCannotRunError,
  CommandNotFoundError,
  CodedError,
  InputBusyError,
  InputClosedError,
  InputNotOpenError,
  NotATerminalError,
  InsufficientStorageError,
  JobAlreadyEndedError,
  JobNotFoundError,
  JobStillRunningError,
  LimitExceedsCapacityError,
  NoCapacityNowError,
  OutputBudgetSpentError,
  OutputUnavailableError,
  QueueFullError,
  TooManyJobsError,
} from '../errors.ts';
import {
  outcomeWithoutExit,
  type JobHandle,
  type JobInput,
  type JobOutcome,
  type Launcher,
} from '../launcher/launcher.ts';
import type { JobStore, JobUpdate } from '../store/job-store.ts';
import type {
  ClientBudget,
  Job,
  JobFilter,
  JobPage,
  JobSpec,
  PageRequest,
  QueueReason,
  ResourceLimits,
  RevocationPolicy,
  ShutdownPolicy,
  TerminalSize,
} from '../jobs/job.ts';
import { hasEnded, type JobStatus } from '../jobs/job-status.ts';
import type { Capacity } from '../jobs/protections.ts';
import type { DequeueEvent, RevokedJobEvent, Transition } from '../jobs/job-events.ts';
import {
  admit,
  IDLE_CLIENT,
  readableBytes,
  type Admission,
  type BudgetSpent,
  type Candidate,
  type Snapshot,
} from './admission.ts';
import { assertTransition } from './job-state.ts';
import { LargeReadLeases } from './large-read-leases.ts';
import { LaunchWaiters } from './launch-waiters.ts';
import { forgetEnvironment, keepEnvironment, keptEnvironment } from './pending-environment.ts';
import { nextToStart } from './queue-order.ts';
import { RecordAdmission } from './record-admission.ts';
import { endedSignal, OutputSignal } from './output-signal.ts';
import {
  OUTPUT_INDEX,
  OUTPUT_LOG,
  OutputChunkStream,
  OutputStream,
  outputSizes,
  type OutputSelection,
} from './output-stream.ts';
import { timedOutput, type TimedOutputOptions } from './output-times.ts';

export type { JobInput } from '../launcher/launcher.ts';

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
  /** Jobs one owner may have running at once; more wait in the queue. */
  readonly maxUnfinishedPerOwner?: number;
  /** Jobs one owner may have queued at once; more are refused with QUEUE_FULL. */
  readonly maxQueuedPerOwner?: number;
  /** Memory all running jobs together may reserve; undefined: no reservation is made. */
  readonly capacityBytes?: number;
  /** What a job without a memory limit reserves. */
  readonly defaultReservationBytes?: number;
  /**
   * Free space the data disk keeps: below it no job starts (queued jobs wait) and jobs' output
   * stops being recorded; 0 or absent for no floor.
   */
  readonly minFreeDiskBytes?: number;
  /** What the records of one client's jobs may hold (command lines, environment names). */
  readonly recordBytesPerClient?: number;
  /** Jobs one client may create a minute. */
  readonly jobsPerMinutePerClient?: number;
  /** Told of every status change after it is stored: how metrics count jobs. */
  readonly onTransition?: (transition: Transition) => void;
  /** Told when a queued job leaves the queue: the audit trail records it. */
  readonly onDequeue?: (event: DequeueEvent) => void;
  /**
   * The serials the CRL in force revokes, asked whenever a job is recorded or leaves the queue:
   * a revoked certificate starts nothing, even before endJobsOfRevoked has been told of it.
   */
  readonly revokedSerials?: () => ReadonlySet<string>;
  /** What a revocation does to running jobs: `stop` them (the default) or `leave` them running. */
  readonly onRevoke?: RevocationPolicy;
  /** Told of every job a revocation ended or left running: the audit trail records it. */
  readonly onRevokedJob?: (event: RevokedJobEvent) => void;
}

/** Whether a job that cannot start now waits (the default) or is refused with a 429. */
export interface StartOptions {
  readonly queue?: boolean;
  /** The serial of the client certificate that asked (normalised hex): its revocation ends the job. */
  readonly clientSerial?: string;
}

export interface OutputRequest {
  readonly select: OutputSelection;
  readonly offset: number;
  readonly follow: boolean;
}

/** Admission's answer for a queued job whose turn has come: it starts, or it fails. */
type Turn = Extract<Admission, { start: true }> | Extract<Admission, { budgetSpent: BudgetSpent }>;

function hasTurn(admission: Admission): admission is Turn {
  return admission.start || 'budgetSpent' in admission;
}

/** A queued job whose turn has come, with its client's totals and admission's answer. */
interface QueueTurn {
  readonly job: Job;
  readonly clientTotals: ResourceLimits;
  readonly admission: Turn;
}

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
/** How often a queue held back by the disk's floor looks again: no event says space was freed. */
const DISK_FLOOR_RETRY_MS = 5000;

export class JobRegistry {
  readonly #options: RegistryOptions;
  readonly #store: JobStore;
  readonly #active = new Map<string, ActiveJob>();
  readonly #log: Logger;
  #sweepTimer: NodeJS.Timeout | undefined;
  readonly #retries = new Set<NodeJS.Timeout>();
  #sweeping: Promise<void> | undefined;
  /** Output signals of queued jobs that someone follows, handed to the job when it starts. */
  readonly #waiting = new Map<string, OutputSignal>();
  readonly #queueTimers = new Map<string, NodeJS.Timeout>();
  /** Queued jobs whose files are still being written: the drain passes them over. */
  readonly #enqueuing = new Set<string>();
  /** Writers of jobs' input waiting for their job to be launched. */
  readonly #launchWaiters = new LaunchWaiters();
  /** Jobs whose input a request is writing (or waiting to): one writer at a time. */
  readonly #inputWriters = new Set<string>();
  /** Running jobs whose input was ended: no writer may follow, even before the FIFO is gone. */
  readonly #endedInputs = new Set<string>();
  /** Jobs asked to stop while being launched. */
  readonly #stopOnceLaunched = new Set<string>();
  /** Shared by this registry's output readers: few of them read large pieces at once. */
  readonly #largeReads = new LargeReadLeases();
  /** What each new job record passes: the disk's floor, its client's allowance and job rate. */
  readonly #records: RecordAdmission;
  /** The next look at the disk while the queue waits for space above its floor. */
  #diskRetry: NodeJS.Timeout | undefined;
  /** The queue is drained by one loop at a time; `#drainAgain` asks it for one more pass. */
  #draining: Promise<void> = Promise.resolve();
  #drainScheduled = false;
  #servedLast: string | undefined;
  /** The serials endJobsOfRevoked was last told of: a job left running is reported once. */
  #revokedBefore: ReadonlySet<string> = new Set();
  #closed = false;

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#log = options.logger.child({ component: 'registry' });
    this.#records = new RecordAdmission(options.store, options.dataDir, {
      minFreeDiskBytes: options.minFreeDiskBytes ?? 0,
      recordBytesPerClient: options.recordBytesPerClient,
      jobsPerMinutePerClient: options.jobsPerMinutePerClient,
    });
  }

  /** Re-attaches jobs that were running when the server last stopped; reconciles the ended. */
  async recover(): Promise<void> {
    for (const job of this.#store.unfinished()) {
      const dir = this.#jobDir(job.id);
      const result = await this.#options.launcher.reattach(job.id, dir);
      if (result.kind === 'never-launched' && this.#store.wasQueued(job.id)) {
        // Accepted long ago and taken off the queue: it goes back, in its old place.
        await createOutputFiles(dir);
        this.#transition(job, 'queued', {});
        this.#log.warn({ jobId: job.id, client: job.owner }, 'job queued again: never launched');
      } else if (result.kind === 'never-launched') {
        // Its client never had an answer (the 201 comes after the launch) and will ask again.
        // The server may have died before it made the job's files: its (empty) output is
        // readable like any ended job's.
        await createOutputFiles(dir);
        this.#recordEndOrRetry(
          job.id,
          outcomeWithoutExit('lost', 'the job supervisor never started'),
        );
      } else if (result.kind === 'ended') {
        this.#recordEndOrRetry(job.id, result.outcome);
      } else {
        if (job.status === 'starting')
          this.#transition(job, 'running', { startedAt: new Date().toISOString() });
        this.#supervise(job, result.handle);
        this.#log.info({ jobId: job.id, client: job.owner }, 'job re-attached after restart');
      }
    }
    for (const job of this.#store.queued()) {
      // A server stopped between recording a job and creating its files left none to follow.
      await createOutputFiles(this.#jobDir(job.id));
      this.#armQueueTimeout(job);
    }
    this.#drainQueue();
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
    const reservation = this.#reservationOf(spec.limits);
    const capacity = this.#options.capacityBytes ?? Infinity;
    if (reservation > capacity) {
      throw new LimitExceedsCapacityError(mebibytes(reservation), mebibytes(capacity));
    }
    // A client that asks not to wait does not wait behind its own queued jobs either.
    const queuedAhead = options.queue === false ? 0 : this.#store.countQueued(owner);
    const admission = admit(
      this.#candidateOf(owner, spec.limits, budget, queuedAhead),
      this.#snapshot(this.#store.queueHeads(), owner),
    );
    if (!admission.start) {
      if ('budgetSpent' in admission) throw budgetSpentError(owner, admission.budgetSpent);
      if (options.queue !== false) return this.#enqueue(owner, spec, budget, options.clientSerial);
      if (admission.reason.code === 'running-cap') {
        throw new TooManyJobsError(owner, this.#options.maxUnfinishedPerOwner ?? Infinity);
      }
      throw new NoCapacityNowError(admission.reason.message);
    }
    const job = this.#create(
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
      this.#launch(job, spec, budget.totals, 'request'),
    ]);
    return started;
  }

  /** What the host gives jobs and how much of it running jobs reserve. */
  capacity(): Capacity {
    return {
      memoryBytes: this.#options.capacityBytes ?? null,
      reservedMemoryBytes: this.#reservedBytes(),
      queued: this.#store.countQueued(),
    };
  }

  async #enqueue(
    owner: string,
    spec: JobSpec,
    budget: ClientBudget,
    clientSerial: string | undefined,
  ): Promise<Job> {
    const most = this.#options.maxQueuedPerOwner ?? Infinity;
    if (this.#store.countQueued(owner) >= most) throw new QueueFullError(owner, most);
    // Its output cap is worked out when it launches; until then it shows the per-job cap.
    const job = this.#create(owner, spec, this.#perJobOutputCap(), 'queued', budget, clientSerial);
    const dir = this.#jobDir(job.id);
    // The drain passes it (and so its client's later jobs) over until its files are written.
    this.#enqueuing.add(job.id);
    try {
      await createOutputFiles(dir);
      await keepEnvironment(dir, spec.env);
    } catch (error) {
      this.#store.delete(job.id);
      await rm(dir, { recursive: true, force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new InsufficientStorageError(error);
      }
      throw error;
    } finally {
      this.#enqueuing.delete(job.id);
    }
    // Revoked while its files were written: endJobsOfRevoked passed it over then.
    const revoked = this.#revokedSerialOf(job);
    if (revoked !== undefined) this.#neverStart(job.id, revoked);
    await this.#store.sync();
    if (revoked === undefined) this.#armQueueTimeout(job);
    this.#log.info({ jobId: job.id, client: owner }, 'job queued');
    // Its own turn may have come already: a slot or memory freed while it was being written.
    this.#drainQueue();
    return this.#present(this.#mustGet(job.id));
  }

  /**
   * Launches a recorded job, one a request asked for just now or one that waited in the queue. A
   * launcher's refusal (a limit this host cannot enforce, an image that is gone) is thrown back
   * to the request and leaves no trace; a queued job, whose request was answered long ago, ends
   * `failed` with the reason.
   */
  async #launch(
    job: Job,
    spec: JobSpec,
    clientTotals: ResourceLimits,
    from: 'request' | 'queue',
  ): Promise<Job> {
    const dir = this.#jobDir(job.id);
    let result;
    try {
      // A queued job's files were written when it was queued (or found again at a restart).
      if (from === 'request') {
        await createOutputFiles(dir);
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
        minFreeDiskBytes: this.#records.floor.bytes,
      });
    } catch (error) {
      if (error instanceof CodedError && error.code !== 'LAUNCH_FAILED' && from === 'request') {
        this.#store.delete(job.id);
        await rm(dir, { recursive: true, force: true });
        this.#drainQueue();
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
    const signal = this.#waiting.get(job.id);
    this.#waiting.delete(job.id);
    if (result.kind === 'failed') {
      this.#recordEndOrRetry(job.id, result.outcome);
      signal?.end();
      this.#drainQueue();
    } else {
      this.#transition(job, 'running', { startedAt: result.handle.startedAt.toISOString() });
      this.#supervise(job, result.handle, signal);
      // A stop asked for while it was being launched is carried out now.
      if (this.#stopOnceLaunched.delete(job.id)) {
        await this.stop({ name: job.owner, seesAll: false }, job.id).catch((error: unknown) => {
          if (!(error instanceof JobAlreadyEndedError)) throw error;
        });
      }
      // Revoked while it was being launched: endJobsOfRevoked passed it over then.
      const revoked = this.#revokedSerialOf(job);
      if (revoked !== undefined) {
        await this.#endRunningOfRevoked(this.#mustGet(job.id), revoked, new Set());
      }
    }
    return this.#mustGet(job.id);
  }

  /** Starts queued jobs while there are slots and memory for them; one loop at a time. */
  #drainQueue(): void {
    if (this.#closed || this.#drainScheduled) return;
    this.#drainScheduled = true;
    this.#draining = this.#draining
      .then(async () => {
        this.#drainScheduled = false;
        for (let next = this.#nextQueued(); next !== undefined; next = this.#nextQueued()) {
          if (this.#closed) return;
          if (this.#records.floor.reached()) {
            this.#drainOnceDiskFrees();
            return;
          }
          await this.#startQueued(next);
        }
      })
      .catch((error: unknown) => this.#log.error({ err: error }, 'could not start queued jobs'));
  }

  /**
   * Below the disk's floor, a queued job whose turn has come waits in its place rather than
   * fail: space comes back (retention, deleted jobs, the operator) and the client asked for the
   * job to run. The queue looks again every few seconds; its jobs' queue timeouts still hold.
   */
  #drainOnceDiskFrees(): void {
    if (this.#diskRetry !== undefined || this.#closed) return;
    this.#log.warn(
      { freeBytes: this.#records.floor.freeBytes(), floorBytes: this.#records.floor.bytes },
      'queued jobs wait: the data disk is below the free space the server keeps',
    );
    this.#diskRetry = setTimeout(() => {
      this.#diskRetry = undefined;
      this.#drainQueue();
    }, DISK_FLOOR_RETRY_MS);
    // The queue is in the store: a timer alone does not keep a stopping server alive.
    this.#diskRetry.unref();
  }

  /** The queued job whose turn it is, if admission lets one start (or refuses one) now. */
  #nextQueued(): QueueTurn | undefined {
    const heads = this.#store.queueHeads();
    const snapshot = this.#snapshot(heads);
    const turns = heads
      .filter(({ job }) => !this.#enqueuing.has(job.id))
      .map(({ job, budget }) => ({
        job,
        owner: job.owner,
        clientTotals: budget.totals,
        admission: admit(this.#candidateOf(job.owner, job.limits, budget, 0), snapshot),
      }));
    const next = nextToStart(turns, this.#servedLast, ({ admission }) => hasTurn(admission));
    if (next === undefined || !hasTurn(next.admission)) return undefined;
    return { job: next.job, clientTotals: next.clientTotals, admission: next.admission };
  }

  /**
   * Takes a job off the queue. It becomes `starting`, with the output cap admission gave it, in
   * the same synchronous step that chose it, so its slot, memory and output are taken before
   * anything else runs: no request can stop it as a queued job, or take what it was chosen for,
   * while its environment is read. One whose client's output budget is spent fails instead.
   */
  async #startQueued({ job, clientTotals, admission }: QueueTurn): Promise<void> {
    const revoked = this.#revokedSerialOf(job);
    if (revoked !== undefined) {
      this.#neverStart(job.id, revoked);
      return;
    }
    if (!admission.start) {
      // Only deleting output frees what ended jobs keep: it would wait for ever.
      const why = budgetSpentError(job.owner, admission.budgetSpent).message;
      this.#endQueued(job, `${why}; it never started`, 'failed');
      return;
    }
    this.#transition(job, 'starting', { outputCapBytes: admission.outputCapBytes });
    this.#clearQueueTimeout(job.id);
    this.#servedLast = job.owner;
    this.#options.onDequeue?.({
      job,
      outcome: 'started',
      waitedMs: Date.now() - Date.parse(job.createdAt),
    });
    const env = await keptEnvironment(this.#jobDir(job.id), job.envNames);
    if (env === undefined) {
      this.#failUnstarted(job.id, 'its environment was lost while it was queued');
      return;
    }
    try {
      // Its leaving the queue reaches the disk before it can run: after a power loss it must not
      // be found queued again and run a second time.
      await this.#store.sync();
    } catch (error) {
      this.#log.error(
        { err: error, jobId: job.id, client: job.owner },
        'could not sync the job store',
      );
      this.#failUnstarted(job.id, 'the server could not write its records to disk');
      return;
    }
    // Revoked while its environment was read: told or not yet, the registry starts nothing of it.
    const revokedMeanwhile = this.#revokedSerialOf(job);
    if (revokedMeanwhile !== undefined) {
      this.#neverStart(job.id, revokedMeanwhile);
      return;
    }
    await this.#launch(this.#mustGet(job.id), specOf(job, env), clientTotals, 'queue');
  }

  /** A job taken off the queue that will not run after all. */
  #failUnstarted(id: string, why: string): void {
    this.#recordEndOrRetry(id, launchFailure(why));
    this.#waiting.get(id)?.end();
    this.#waiting.delete(id);
    this.#drainQueue();
  }

  /** A queued job (or one just taken off the queue) of a revoked certificate: it never starts. */
  #neverStart(id: string, serial: string): void {
    const job = this.#mustGet(id);
    // Stopped by its client meanwhile: it has ended already, and not for this.
    if (job.status !== 'queued' && job.status !== 'starting') return;
    this.#endQueued(job, `its client certificate (serial ${serial}) was revoked; it never started`);
    this.#stopOnceLaunched.delete(id);
    this.#options.onRevokedJob?.({ job: this.#mustGet(id), serial, outcome: 'never started' });
  }

  /** The job's certificate serial when the CRL in force revokes it. */
  #revokedSerialOf(job: Job): string | undefined {
    const serial = job.clientSerial;
    if (serial === null || this.#options.revokedSerials?.().has(serial) !== true) return undefined;
    return serial;
  }

  /** Memory running jobs reserve: each its memory limit, or the default where it has none. */
  #reservedBytes(): number {
    return this.#store.reservedMemory(this.#options.defaultReservationBytes ?? 0);
  }

  /**
   * What runs and waits now, as admission sees it: read from the store in a few queries, so it
   * is taken at every start and every turn of the queue. `asking`, a client whose request may
   * be its only job, is there too: the output its ended jobs keep counts.
   */
  #snapshot(heads = this.#store.queueHeads(), asking?: string): Snapshot {
    const clients = this.#store.clientLoads(this.#options.defaultReservationBytes ?? 0);
    if (asking !== undefined && !clients.has(asking)) {
      clients.set(asking, { ...IDLE_CLIENT, keptOutputBytes: this.#store.outputBytesOf(asking) });
    }
    return {
      hostMemoryBytes: this.#options.capacityBytes,
      runningCap: this.#options.maxUnfinishedPerOwner ?? Infinity,
      maxOutputBytes: this.#perJobOutputCap(),
      clients,
      queueHeads: heads.map(({ job, budget }) =>
        this.#candidateOf(job.owner, job.limits, budget, 0),
      ),
    };
  }

  #candidateOf(
    owner: string,
    limits: ResourceLimits,
    budget: ClientBudget,
    queuedAhead: number,
  ): Candidate {
    return {
      owner,
      reservationBytes: this.#reservationOf(limits),
      clientMemoryBytes: budget.totals.memoryBytes,
      outputBudgetBytes: budget.outputBytes,
      queuedAhead,
    };
  }

  /**
   * Why a queued job has not started, asked when it is shown. Its client's budget is the one its
   * oldest queued job was accepted with.
   */
  #queueReasonOf(job: Job, queuePosition: number, snapshot: Snapshot): QueueReason {
    const head = snapshot.queueHeads.find((candidate) => candidate.owner === job.owner);
    const admission = admit(
      {
        owner: job.owner,
        reservationBytes: this.#reservationOf(job.limits),
        clientMemoryBytes: head?.clientMemoryBytes,
        outputBudgetBytes: head?.outputBudgetBytes,
        queuedAhead: queuePosition - 1,
      },
      snapshot,
    );
    if (admission.start) {
      return { code: 'next', message: 'nothing holds it back: it starts as the queue moves' };
    }
    if ('budgetSpent' in admission) {
      const why = budgetSpentError(job.owner, admission.budgetSpent).message;
      return { code: 'output-budget', message: `${why}; it fails when its turn comes` };
    }
    return admission.reason;
  }

  /** The most output one job may keep; null for no cap. */
  #perJobOutputCap(): number | null {
    return this.#options.maxOutputBytes > 0 ? this.#options.maxOutputBytes : null;
  }

  #reservationOf(limits: ResourceLimits): number {
    return limits.memoryBytes ?? this.#options.defaultReservationBytes ?? 0;
  }

  #armQueueTimeout(job: Job): void {
    if (job.queueTimeoutMs === null || this.#closed) return;
    const due = Date.parse(job.createdAt) + job.queueTimeoutMs - Date.now();
    const timer = setTimeout(() => this.#queueTimedOut(job), Math.max(0, due));
    // The queue is in the store: a timer alone does not keep a stopping server alive.
    timer.unref();
    this.#queueTimers.set(job.id, timer);
  }

  #queueTimedOut(job: Job): void {
    this.#queueTimers.delete(job.id);
    try {
      const current = this.#store.get(job.id);
      if (current?.status !== 'queued') return;
      const seconds = Math.round((job.queueTimeoutMs ?? 0) / 1000);
      this.#endQueued(
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

  #clearQueueTimeout(id: string): void {
    clearTimeout(this.#queueTimers.get(id));
    this.#queueTimers.delete(id);
  }

  /** Ends a queued job as `stopped` (or `failed`) without ever running it. */
  #endQueued(job: Job, why: string, status: 'stopped' | 'failed' = 'stopped'): void {
    this.#clearQueueTimeout(job.id);
    this.#transition(job, status, { error: why, endedAt: new Date().toISOString() });
    this.#waiting.get(job.id)?.end();
    this.#waiting.delete(job.id);
    forgetEnvironment(this.#jobDir(job.id), job.envNames).catch((error: unknown) =>
      this.#log.warn(
        { err: error, jobId: job.id, client: job.owner },
        'could not delete a kept environment',
      ),
    );
  }

  /** The output signal of a job: its supervisor's, a queued job's own, or an ended one's. */
  #signalOf(job: Job): OutputSignal {
    const active = this.#active.get(job.id)?.signal;
    if (active !== undefined) return active;
    // A job being launched has no supervisor yet: it is followed like a queued one.
    if (job.status !== 'queued' && job.status !== 'starting') return endedSignal();
    let waiting = this.#waiting.get(job.id);
    if (waiting === undefined) {
      waiting = new OutputSignal();
      this.#waiting.set(job.id, waiting);
    }
    return waiting;
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
    let taken: Snapshot | undefined;
    const snapshot = (): Snapshot => (taken ??= this.#snapshot());
    return this.#store
      .atPositions(positions)
      .filter((job) => canSee(viewer, job))
      .map((job) => this.#present(job, snapshot));
  }

  /**
   * A job as clients see it. The store learns a job's output size when it ends; while it runs,
   * the size is what its supervisor has written so far (one stat of the output file). A queued
   * job's place in its client's queue, and why it waits, are worked out when asked for.
   */
  #present(job: Job, snapshot = (): Snapshot => this.#snapshot()): Job {
    if (job.status === 'queued') {
      const queuePosition = this.#store.queuePosition(job);
      const queueReason = this.#queueReasonOf(job, queuePosition, snapshot());
      return { ...job, queuePosition, queueReason };
    }
    const active = this.#active.get(job.id);
    if (active === undefined) return job;
    const outputBytes = this.#liveOutputBytes(job.id);
    const live = active.handle.liveUsage();
    // Live while it runs: its cgroup's counters, read at once (a few bytes the kernel makes up).
    const usage =
      live === undefined ? job.usage : { ...job.usage, ...live, memoryBytes: live.memoryBytes };
    return { ...job, usage, ...(outputBytes === undefined ? {} : { outputBytes }) };
  }

  #liveOutputBytes(id: string): number | undefined {
    try {
      return statSync(join(this.#jobDir(id), OUTPUT_LOG)).size;
    } catch {
      return undefined;
    }
  }

  /**
   * Asks a running job to stop; returns at once, the job ends in its own time. `why`, when the
   * server itself stops it, is kept in the job's `error`.
   */
  async stop(viewer: Viewer, id: string, why?: string): Promise<Job> {
    const job = this.get(viewer, id);
    if (job.status === 'queued') {
      this.#endQueued(job, why ?? 'stopped while queued; it never started');
      return this.#mustGet(id);
    }
    const active = this.#active.get(id);
    if (job.status === 'starting' && active === undefined) {
      // Being launched: stopped as soon as its supervisor is there.
      this.#stopOnceLaunched.add(id);
      return job;
    }
    if (hasEnded(job.status) || active === undefined)
      throw new JobAlreadyEndedError(id, job.status);
    if (job.status === 'running') {
      try {
        this.#transition(job, 'stopping', {
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
    return this.#mustGet(id);
  }

  /**
   * Ends what revoked certificates started; told whenever the CRL in force revokes more, and once
   * at start. Their queued jobs never start (they end `stopped`, the revocation in their
   * `error`); their running jobs are stopped with the usual grace, or run on under `onRevoke:
   * 'leave'`. A job being launched is left to #startQueued and #launch, which check again; a job
   * recorded without a serial is out of reach.
   */
  async endJobsOfRevoked(serials: ReadonlySet<string>): Promise<void> {
    const revokedBefore = this.#revokedBefore;
    this.#revokedBefore = serials;
    const serialOf = (job: Job): string | undefined =>
      job.clientSerial !== null && serials.has(job.clientSerial) ? job.clientSerial : undefined;
    let neverStarted = 0;
    for (const job of this.#store.queued()) {
      const serial = serialOf(job);
      // One whose files are still being written is ended by #enqueue once they are.
      if (serial === undefined || this.#enqueuing.has(job.id)) continue;
      this.#neverStart(job.id, serial);
      neverStarted += 1;
    }
    const running = this.#store.unfinished().filter((job) => job.status === 'running');
    const ends = running.flatMap((job) => {
      const serial = serialOf(job);
      return serial === undefined ? [] : [this.#endRunningOfRevoked(job, serial, revokedBefore)];
    });
    await Promise.all(ends);
    if (neverStarted > 0 || ends.length > 0) {
      this.#log.warn(
        { neverStarted, running: ends.length, policy: this.#options.onRevoke ?? 'stop' },
        'jobs of revoked client certificates ended',
      );
    }
  }

  /** Stops a running job of a revoked certificate, or reports it left running (once). */
  async #endRunningOfRevoked(
    job: Job,
    serial: string,
    revokedBefore: ReadonlySet<string>,
  ): Promise<void> {
    if (job.status !== 'running') return;
    if (this.#options.onRevoke === 'leave') {
      // Reported once: a later revocation of another certificate finds it again.
      if (revokedBefore.has(serial)) return;
      this.#options.onRevokedJob?.({ job, serial, outcome: 'left running' });
      return;
    }
    try {
      const why = `its client certificate (serial ${serial}) was revoked`;
      const stopping = await this.stop({ name: job.owner, seesAll: false }, job.id, why);
      this.#options.onRevokedJob?.({ job: stopping, serial, outcome: 'stopped' });
    } catch (error) {
      if (error instanceof JobAlreadyEndedError) return;
      this.#log.error(
        { err: error, jobId: job.id, client: job.owner, serial },
        'could not stop a job of a revoked client certificate',
      );
    }
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

  /** How much output each stream of a job has so far, to read from there on. */
  async outputSizes(viewer: Viewer, id: string): Promise<Record<OutputSelection, number>> {
    this.get(viewer, id);
    return outputSizes(this.#jobDir(id));
  }

  output(viewer: Viewer, id: string, request: OutputRequest): Readable {
    const job = this.get(viewer, id);
    return new OutputStream({
      dir: this.#jobDir(id),
      signal: this.#signalOf(job),
      leases: { pool: this.#largeReads, reader: viewer.name },
      ...request,
    });
  }

  /**
   * A job's whole output in the order it was written, each piece with its stream; `offset`
   * counts bytes of the whole output (`outputSizes().all` is its current end).
   */
  outputChunks(
    viewer: Viewer,
    id: string,
    request: Omit<OutputRequest, 'select'> & { readonly select?: OutputSelection },
  ): OutputChunkStream {
    const job = this.get(viewer, id);
    return new OutputChunkStream({
      dir: this.#jobDir(id),
      signal: this.#signalOf(job),
      terminal: job.tty !== null,
      ...request,
    });
  }

  /**
   * A job's output from the first piece written at or after `sinceNanos`, each line prefixed with
   * its time when asked (output-times.ts): bytes, or chunks with their stream.
   */
  timedOutput(viewer: Viewer, id: string, request: OutputRequest & TimedOutputOptions): Readable {
    const { sinceNanos, timestamps, asBytes, ...read } = request;
    const chunks = this.outputChunks(viewer, id, read);
    const timed = timedOutput(this.#jobDir(id), {
      ...(sinceNanos === undefined ? {} : { sinceNanos }),
      timestamps,
      asBytes,
    });
    // Torn down together: a client that goes away closes the reader and its files.
    pipeline(chunks, timed, () => undefined);
    return timed;
  }

  /**
   * A writer of a job's input, for its owner (the API decides who may ask). Waits while the job
   * is queued or being launched, until `signal` aborts; one writer at a time per job.
   */
  async openInput(viewer: Viewer, id: string, signal?: AbortSignal): Promise<JobInput> {
    if (!this.get(viewer, id).stdin) throw new InputNotOpenError(id);
    if (this.#endedInputs.has(id)) throw new InputClosedError(id, 'it was ended');
    if (this.#inputWriters.has(id)) throw new InputBusyError(id);
    this.#inputWriters.add(id);
    try {
      let job = this.#mustGet(id);
      while (!hasEnded(job.status) && !this.#active.has(id)) {
        await this.#launchWaiters.wait(id, signal);
        job = this.#mustGet(id);
      }
      const active = this.#active.get(id);
      if (active === undefined) throw new JobAlreadyEndedError(id, job.status);
      const input = await active.handle.openInput(id);
      input.stream.once('close', () => this.#inputWriters.delete(id));
      return {
        stream: input.stream,
        end: async () => {
          this.#endedInputs.add(id);
          await input.end();
        },
      };
    } catch (error) {
      this.#inputWriters.delete(id);
      throw error;
    }
  }

  /**
   * Sets the size of a job's terminal (the API decides who may). A job not yet launched keeps
   * the size it was started with, and one that has ended has nothing to resize.
   */
  async resize(viewer: Viewer, id: string, size: TerminalSize): Promise<void> {
    const job = this.get(viewer, id);
    if (job.tty === null) throw new NotATerminalError(id);
    await this.#active.get(id)?.handle.resize(size);
  }

  /** Resolves once the job has ended (immediately if it has), with its final record. */
  async whenEnded(viewer: Viewer, id: string): Promise<Job> {
    const signal = this.#signalOf(this.get(viewer, id));
    if (!signal.ended) {
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
    clearTimeout(this.#diskRetry);
    for (const timer of this.#queueTimers.values()) clearTimeout(timer);
    // A launch under way finishes; queued jobs stay in the store for the next server.
    await Promise.all([this.#sweeping, this.#draining]);
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

  #create(
    owner: string,
    spec: JobSpec,
    outputCapBytes: number | null,
    status: 'queued' | 'starting',
    budget: ClientBudget = { totals: {} },
    clientSerial?: string,
  ): Job {
    // Checked again here: the request may have been under way when its certificate was revoked.
    if (clientSerial !== undefined && this.#options.revokedSerials?.().has(clientSerial) === true) {
      throw new CertificateRevokedError(clientSerial);
    }
    const job: Job = {
      id: randomUUID(),
      owner,
      clientSerial: clientSerial ?? null,
      command: spec.command,
      args: spec.args,
      envNames: Object.keys(spec.env).sort(),
      cwd: spec.cwd,
      limits: spec.limits,
      timeoutMs: spec.timeoutMs ?? null,
      sandbox: spec.sandbox,
      image: spec.image ?? null,
      labels: spec.labels,
      queueTimeoutMs: spec.queueTimeoutMs ?? null,
      queuePosition: null,
      queueReason: null,
      stdin: spec.stdin,
      stderr: spec.stderr,
      tty: spec.tty ?? null,
      status,
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
    this.#records.admit(job);
    // Its client's budget is kept with it: a queued job is admitted with it when its turn comes.
    this.#store.insert(job, budget);
    return job;
  }

  #supervise(job: Job, handle: JobHandle, signal = new OutputSignal()): void {
    const { id, owner } = job;
    const unsubscribe = handle.onOutput(() => signal.notify());
    this.#active.set(id, { owner, handle, signal });
    this.#launchWaiters.settle(id);
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
        this.#endedInputs.delete(id);
        signal.end();
        // A slot and its memory are free: the queue's next job may start.
        this.#drainQueue();
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
      // A job the server stopped keeps the reason it gave when it asked; a timeout or an OOM
      // kill, which nobody asked for either, is told too (the follower's Job-Error says it).
      error: outcome.error ?? job.error ?? unaskedEnding(job, outcome),
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

  /** When the job longest in the queue was queued, for metrics; undefined while none is. */
  oldestQueuedAt(): Date | undefined {
    return this.#store.oldestQueuedAt();
  }

  #transition(job: Job, to: JobStatus, changes: JobUpdate): void {
    assertTransition(job.status, to);
    this.#store.update(job.id, { ...changes, status: to });
    this.#options.onTransition?.({ job: this.#mustGet(job.id), from: job.status, to });
    if (hasEnded(to)) this.#launchWaiters.settle(job.id);
    this.#log.info(
      {
        jobId: job.id,
        client: job.owner,
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
    // The client is told its job is gone: after a power loss it must not come back.
    await this.#store.sync();
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
  await Promise.all(
    [OUTPUT_LOG, OUTPUT_INDEX].map((file) =>
      writeFile(join(dir, file), '', { flag: 'a', mode: 0o600 }),
    ),
  );
}

/** What a queued job asked for, from its record and its kept environment. */
function specOf(job: Job, env: Record<string, string>): JobSpec {
  return {
    command: job.command,
    args: job.args,
    env,
    cwd: job.cwd,
    limits: job.limits,
    ...(job.timeoutMs === null ? {} : { timeoutMs: job.timeoutMs }),
    sandbox: job.sandbox,
    ...(job.image === null ? {} : { image: job.image }),
    labels: job.labels,
    ...(job.queueTimeoutMs === null ? {} : { queueTimeoutMs: job.queueTimeoutMs }),
    stdin: job.stdin,
    stderr: job.stderr,
    ...(job.tty === null ? {} : { tty: job.tty }),
  };
}

function mebibytes(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}

function budgetSpentError(owner: string, spent: BudgetSpent): OutputBudgetSpentError {
  return new OutputBudgetSpentError(
    owner,
    readableBytes(spent.budgetBytes),
    readableBytes(spent.keptBytes),
  );
}

function canSee(viewer: Viewer, job: Job): boolean {
  return viewer.seesAll || job.owner === viewer.name;
}

/** Why a job ended that its owner did not end, when its supervisor gave no reason of its own. */
function unaskedEnding(job: Job, outcome: JobOutcome): string | null {
  if (outcome.reason === 'timedout' && job.timeoutMs !== null) {
    return `timed out after ${job.timeoutMs / 1000}s (its timeout)`;
  }
  if (outcome.oomKilled) {
    const limit = job.limits.memoryBytes;
    return `killed: out of memory${limit === undefined ? '' : ` (its limit is ${readableBytes(limit)})`}`;
  }
  return null;
}

function launchFailure(error: unknown, reason: 'failed' | 'lost' = 'failed'): JobOutcome {
  return outcomeWithoutExit(reason, error instanceof Error ? error.message : String(error));
}
