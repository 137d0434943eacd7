// A job's record in the store, written here only: created (after RecordAdmission lets it be),
// moved from status to status by the state machine (job-state.ts), and ended from what its
// supervisor recorded. Every change is told to whoever listens (metrics, waiters of a launch).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { CertificateRevokedError, InsufficientStorageError, JobNotFoundError } from '../errors.ts';
import { outcomeWithoutExit, type JobOutcome } from '../launcher/launcher.ts';
import type { JobStore, JobUpdate } from '../store/job-store.ts';
import type { ClientBudget, Job, JobSpec } from '../jobs/job.ts';
import { recordedSpecOf } from '../jobs/job-spec.ts';
import { hasEnded, type JobStatus } from '../jobs/job-status.ts';
import { readableBytes } from './admission.ts';
import { assertTransition } from './job-state.ts';
import type { RecordAdmission } from './record-admission.ts';
import type { Transition } from './registry-options.ts';

/** How often the end of a job is retried while the disk is too full to record it. */
const END_RECORD_RETRY_MS = 5000;

export interface JobRecordsOptions {
  readonly store: JobStore;
  readonly log: Logger;
  /** What each new record passes: the disk's floor, its client's allowance and job rate. */
  readonly admission: RecordAdmission;
  readonly revokedSerials?: () => ReadonlySet<string>;
  /** Told of every status change after it is stored. */
  readonly onTransition: (transition: Transition) => void;
}

export class JobRecords {
  readonly #store: JobStore;
  readonly #log: Logger;
  readonly #options: JobRecordsOptions;
  readonly #retries = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(options: JobRecordsOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#log = options.log;
  }

  create(
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
      ...recordedSpecOf(spec),
      queuePosition: null,
      queueReason: null,
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
    this.#options.admission.admit(job);
    // Its client's budget is kept with it: a queued job is admitted with it when its turn comes.
    this.#store.insert(job, budget);
    return job;
  }

  mustGet(id: string): Job {
    const job = this.#store.get(id);
    if (job === undefined) throw new JobNotFoundError(id);
    return job;
  }

  transition(job: Job, to: JobStatus, changes: JobUpdate): void {
    assertTransition(job.status, to);
    this.#store.update(job.id, { ...changes, status: to });
    this.#options.onTransition({ job: this.mustGet(job.id), from: job.status, to });
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

  /**
   * A job's end is known once: if the disk is full just then, the record is retried until it
   * fits, so the job does not stay "running" forever.
   */
  recordEndOrRetry(id: string, outcome: JobOutcome): void {
    try {
      this.#recordEnd(id, outcome);
      return;
    } catch (error) {
      this.#log.error({ err: error, jobId: id }, 'could not record job end');
      if (!(error instanceof InsufficientStorageError) || this.#closed) return;
    }
    const retry = setTimeout(() => {
      this.#retries.delete(retry);
      this.recordEndOrRetry(id, outcome);
    }, END_RECORD_RETRY_MS);
    this.#retries.add(retry);
  }

  /** No end is retried from now on. */
  close(): void {
    this.#closed = true;
  }

  /** Gives up the ends still waiting for room on the disk (the next server reconciles them). */
  clearRetries(): void {
    for (const retry of this.#retries) clearTimeout(retry);
  }

  #recordEnd(id: string, outcome: JobOutcome): void {
    const job = this.mustGet(id);
    if (hasEnded(job.status)) return;
    this.transition(job, outcome.reason, {
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

export function launchFailure(error: unknown, reason: 'failed' | 'lost' = 'failed'): JobOutcome {
  return outcomeWithoutExit(reason, error instanceof Error ? error.message : String(error));
}
