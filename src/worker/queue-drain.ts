// The loop that starts queued jobs while admission lets them: one pass at a time, asked for
// again whenever a slot, memory or the disk may have freed. Below the disk's floor it waits in
// place and looks again every few seconds, since no event says space was freed.
import type { Logger } from 'pino';
import type { DiskFloor } from './disk-floor.ts';

/** How often a queue held back by the disk's floor looks again: no event says space was freed. */
const DISK_FLOOR_RETRY_MS = 5000;

export interface QueueDrainOptions<T> {
  readonly log: Logger;
  readonly floor: DiskFloor;
  /** The queued job whose turn has come now, if any. */
  readonly nextTurn: () => T | undefined;
  /** Takes the job off the queue and launches it (or ends it). */
  readonly startTurn: (turn: T) => Promise<void>;
}

export class QueueDrain<T> {
  readonly #options: QueueDrainOptions<T>;
  /** The queue is drained by one loop at a time; `#scheduled` asks it for one more pass. */
  #draining: Promise<void> = Promise.resolve();
  #scheduled = false;
  /** The next look at the disk while the queue waits for space above its floor. */
  #diskRetry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: QueueDrainOptions<T>) {
    this.#options = options;
  }

  /** Starts queued jobs while there are slots and memory for them; one loop at a time. */
  drain(): void {
    if (this.#closed || this.#scheduled) return;
    this.#scheduled = true;
    this.#draining = this.#draining
      .then(async () => {
        this.#scheduled = false;
        const { floor, nextTurn, startTurn } = this.#options;
        for (let next = nextTurn(); next !== undefined; next = nextTurn()) {
          if (this.#closed) return;
          if (floor.reached()) {
            this.#drainOnceDiskFrees();
            return;
          }
          await startTurn(next);
        }
      })
      .catch((error: unknown) =>
        this.#options.log.error({ err: error }, 'could not start queued jobs'),
      );
  }

  /** No pass starts from now on; resolves once the one under way (a launch) has finished. */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#diskRetry);
    return this.#draining;
  }

  /**
   * Below the disk's floor, a queued job whose turn has come waits in its place rather than
   * fail: space comes back (retention, deleted jobs, the operator) and the client asked for the
   * job to run. The queue looks again every few seconds; its jobs' queue timeouts still hold.
   */
  #drainOnceDiskFrees(): void {
    if (this.#diskRetry !== undefined || this.#closed) return;
    const { floor, log } = this.#options;
    log.warn(
      { freeBytes: floor.freeBytes(), floorBytes: floor.bytes },
      'queued jobs wait: the data disk is below the free space the server keeps',
    );
    this.#diskRetry = setTimeout(() => {
      this.#diskRetry = undefined;
      this.drain();
    }, DISK_FLOOR_RETRY_MS);
    // The queue is in the store: a timer alone does not keep a stopping server alive.
    this.#diskRetry.unref();
  }
}
