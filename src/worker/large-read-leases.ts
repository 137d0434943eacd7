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
  /**
   * Leases one client may hold at once. A client whose followers stop reading (a pager left
   * open) keeps their leases until it lets go, since their large pieces are still on their way:
   * with one each, no client can take every lease from the others that way.
   */
  readonly perClient: number;
  #taken = 0;
  readonly #byClient = new Map<string, number>();

  constructor(capacity = 4, keepingUpBytesPerMs = KEEPING_UP_BYTES_PER_MS, perClient = 1) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`capacity must be a whole number, not ${capacity}`);
    }
    if (!(keepingUpBytesPerMs >= 0)) {
      throw new RangeError(
        `the keeping-up rate must be a number of bytes, not ${keepingUpBytesPerMs}`,
      );
    }
    this.capacity = capacity;
    this.keepingUpBytesPerMs = keepingUpBytesPerMs;
    this.perClient = perClient;
  }

  /** Leases nobody holds: a reader can skip looking for one when there is none. */
  get available(): number {
    return this.capacity - this.#taken;
  }

  /**
   * A lease for a reader of `client`'s if one is free and the client holds fewer than
   * `perClient`. Never waits: a reader without one reads small, which is only
   * slower, and a queue would make it wait on readers whose clients may be slow.
   */
  tryTake(client: string): LargeReadLease | undefined {
    const held = this.#byClient.get(client) ?? 0;
    if (this.#taken >= this.capacity || held >= this.perClient) return undefined;
    this.#taken += 1;
    this.#byClient.set(client, held + 1);
    let holding = true;
    return {
      release: () => {
        if (!holding) return;
        holding = false;
        this.#taken -= 1;
        const left = (this.#byClient.get(client) ?? 1) - 1;
        if (left === 0) this.#byClient.delete(client);
        else this.#byClient.set(client, left);
      },
    };
  }
}
