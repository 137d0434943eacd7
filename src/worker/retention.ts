// Retention: ended jobs older than `retentionMs` are deleted with their output, in the
// background, now and every hour after. A backlog of expired jobs is deleted a batch at a time,
// so requests are served between batches.
import { rm } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { JobStore } from '../store/job-store.ts';

const RETENTION_SWEEP_MS = 60 * 60 * 1000;
/** Expired jobs deleted per commit: about 10 ms of the event loop each at 100,000 jobs. */
const EXPIRY_BATCH = 128;

export interface RetentionOptions {
  readonly store: JobStore;
  readonly log: Logger;
  /** Ended jobs older than this are deleted with their output; 0 keeps them forever. */
  readonly retentionMs: number;
  readonly jobDir: (id: string) => string;
}

export class Retention {
  readonly #options: RetentionOptions;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;
  #closed = false;

  constructor(options: RetentionOptions) {
    this.#options = options;
  }

  /** Deletes expired jobs now and every hour after, in the background. */
  start(): void {
    if (this.#options.retentionMs <= 0 || this.#closed) return;
    this.#sweepExpired();
    this.#sweepTimer = setInterval(() => this.#sweepExpired(), RETENTION_SWEEP_MS);
    this.#sweepTimer.unref();
  }

  /** No sweep starts from now on; resolves once the one under way has stopped. */
  close(): Promise<void> | undefined {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    return this.#sweeping;
  }

  /** Starts deleting expired jobs in the background, unless a sweep is still under way. */
  #sweepExpired(): void {
    if (this.#options.retentionMs <= 0 || this.#sweeping !== undefined) return;
    this.#sweeping = this.#deleteExpired()
      .catch((error: unknown) =>
        this.#options.log.warn({ err: error }, 'could not delete expired jobs'),
      )
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
    const { store, log, jobDir } = this.#options;
    const cutoff = new Date(Date.now() - this.#options.retentionMs).toISOString();
    let deleted = 0;
    while (!this.#closed) {
      const ids = store.endedBefore(cutoff, EXPIRY_BATCH);
      if (ids.length === 0) break;
      store.deleteMany(ids);
      deleted += ids.length;
      await Promise.all(
        ids.map((id) =>
          rm(jobDir(id), { recursive: true, force: true }).catch((error: unknown) =>
            log.warn({ err: error, jobId: id }, 'could not delete the output of a job'),
          ),
        ),
      );
      await setImmediate();
    }
    if (deleted > 0) log.info({ count: deleted }, 'expired jobs deleted');
  }
}
