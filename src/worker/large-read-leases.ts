// Large reads of a job's output are faster (fewer reads and writes per byte) but each large piece
// stays in memory until it has passed the whole pipeline to the client, several pieces deep. A
// few leases, shared by all the output readers of a server, bound how many readers may have large
// pieces on their way at once, so the memory they cost does not grow with the number of followers.
//
// Invariant: at any moment at most `capacity` readers have a large piece anywhere between their
// file and their client's socket. A reader takes a lease before its first large read and gives it
// back only once its large pieces are gone, or dropped with its destroyed pipeline (see LeasedLog
// in output-stream.ts for when that is).

/** One reader's right to read large; `release` may be called any number of times. */
export interface LargeReadLease {
  release(): void;
}

/**
 * How fast a reader's client must take what it was given to count as keeping up, in bytes per
 * millisecond: 32 MiB/s. A large read only helps a reader whose client is faster than the
 * server's reads; a slow one (one of a hundred sharing the host's CPU, one on a slow link) would
 * only hold large pieces longer, and its lease from the readers it could help.
 */
export const KEEPING_UP_BYTES_PER_MS = 32 * 1024;

export class LargeReadLeases {
  readonly capacity: number;
  /** The rate a reader's client must keep to be given or to keep a lease. */
  readonly keepingUpBytesPerMs: number;
  #taken = 0;

  constructor(capacity = 4, keepingUpBytesPerMs = KEEPING_UP_BYTES_PER_MS) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`capacity must be a whole number, not ${capacity}`);
    }
    this.capacity = capacity;
    this.keepingUpBytesPerMs = keepingUpBytesPerMs;
  }

  /** Leases nobody holds: a reader can skip looking for one when there is none. */
  get available(): number {
    return this.capacity - this.#taken;
  }

  /**
   * A lease if one is free. Never waits: a reader without one reads small, which is only
   * slower, and a queue would make it wait on readers whose clients may be slow.
   */
  tryTake(): LargeReadLease | undefined {
    if (this.#taken >= this.capacity) return undefined;
    this.#taken += 1;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.#taken -= 1;
      },
    };
  }
}
