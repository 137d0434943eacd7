// The body of GET /v1/jobs, written a few jobs at a time. A page of a thousand jobs with long
// arguments is tens of megabytes: built whole, it held the server's memory for as long as its
// client took to read it (forty clients that never did took 2 GiB), and serialising it held up
// every other client for a second. Here the jobs are read from the store a batch at a time, only
// as fast as the client reads (the stream's back-pressure), one batch of one listing per turn of
// the event loop, listings taking turns (however many are open, another client's request waits
// for one batch at most); each job's args are cut past LISTED_ARGS_CHARACTERS; and what each batch
// read is charged to the client's rate limit, the listing waiting while the client's budget is
// spent, so no client reads the store faster than its rate allows however many listings it asks
// for.
import { Readable } from 'node:stream';
import { LISTED_ARGS_CHARACTERS, type ListedJob } from '../../contract/jobs.ts';
import type { Job } from '../../jobs/job.ts';

/**
 * Jobs read and serialised together: a few milliseconds of work at most (25 records of 64 KiB
 * each), and what a client that stops reading leaves waiting in the server.
 */
const BATCH = 25;

/** What a listing reads costs its client one request of its rate limit per this many bytes. */
export const BYTES_PER_REQUEST = 64 * 1024;

export interface Listing {
  /** Where the page's jobs are, newest first. */
  readonly positions: readonly number[];
  /** The jobs at some of the positions, as the client may see them (a deleted one left out). */
  read(positions: readonly number[]): readonly Job[];
  /** Charges the client `requests` (a fraction of one as often as not) for what was read. */
  charge(requests: number): void;
  /** How long to wait before reading more: 0 unless the client's budget is spent. */
  waitMs(): number;
}

/**
 * The batches of every open listing, one per turn of the event loop, in the order they were
 * asked for: a listing that wants another batch goes to the back of the line.
 */
export class ListingTurns {
  readonly #waiting = new Set<() => void>();
  #turn: NodeJS.Immediate | undefined;

  /** Runs `batch` at its turn, unless withdrawn before. */
  enqueue(batch: () => void): void {
    this.#waiting.add(batch);
    if (this.#turn === undefined) this.#turn = setImmediate(() => this.#takeTurn());
  }

  withdraw(batch: () => void): void {
    this.#waiting.delete(batch);
  }

  #takeTurn(): void {
    this.#turn = undefined;
    const [batch] = this.#waiting;
    if (batch === undefined) return;
    this.#waiting.delete(batch);
    if (this.#waiting.size > 0) this.#turn = setImmediate(() => this.#takeTurn());
    batch();
  }
}

/** `{"jobs":[...]}`, as a stream that reads the jobs only as the client takes them. */
export function listingBody(listing: Listing, turns: ListingTurns): Readable {
  return new ListingBody(listing, turns);
}

class ListingBody extends Readable {
  readonly #listing: Listing;
  /** The index in `positions` of the next batch. */
  #next = 0;
  #opened = false;
  /** What the request's own token pays for. */
  #prepaidBytes = BYTES_PER_REQUEST;
  readonly #turns: ListingTurns;
  readonly #readBatch = (): void => this.#readBatchAtItsTurn();
  #budgetWait: NodeJS.Timeout | undefined;

  constructor(listing: Listing, turns: ListingTurns) {
    // Bytes, and the default mark (16 KiB): one batch waits here for a client that stops reading.
    super();
    this.#listing = listing;
    this.#turns = turns;
  }

  override _read(): void {
    this.#turns.enqueue(this.#readBatch);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#turns.withdraw(this.#readBatch);
    clearTimeout(this.#budgetWait);
    callback(error);
  }

  #readBatchAtItsTurn(): void {
    // Asked at the turn, not when it was queued: the client's other listings may have spent its
    // budget meanwhile.
    const waitMs = this.#listing.waitMs();
    if (waitMs > 0) {
      this.#budgetWait = setTimeout(() => this._read(), waitMs);
      return;
    }
    const { positions } = this.#listing;
    const start = this.#next;
    if (start >= positions.length) {
      this.push(this.#opened ? ']}' : '{"jobs":[]}');
      this.push(null);
      return;
    }
    let texts: string[];
    try {
      texts = this.#serialised(this.#listing.read(positions.slice(start, start + BATCH)));
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    this.#next = start + BATCH;
    // Every job of the batch deleted since the page was read: nothing to send, read on.
    if (texts.length === 0) {
      this._read();
      return;
    }
    const opening = this.#opened ? ',' : '{"jobs":[';
    this.#opened = true;
    this.push(opening + texts.join(','));
  }

  /** The batch's entries as JSON, their cost (the records as read, cut args included) charged. */
  #serialised(jobs: readonly Job[]): string[] {
    let readBytes = 0;
    const texts = jobs.map((job) => {
      const { entry, cutCharacters } = listed(job);
      const text = JSON.stringify(entry);
      readBytes += text.length + cutCharacters;
      return text;
    });
    const owed = readBytes - this.#prepaidBytes;
    this.#prepaidBytes = Math.max(0, -owed);
    if (owed > 0) this.#listing.charge(owed / BYTES_PER_REQUEST);
    return texts;
  }
}

/**
 * A job as a listing shows it: its record, with args longer together than the limit cut; and how
 * many characters were cut, which were read all the same.
 */
function listed(job: Job): { entry: ListedJob; cutCharacters: number } {
  let room = LISTED_ARGS_CHARACTERS;
  for (const [index, arg] of job.args.entries()) {
    if (arg.length <= room) {
      room -= arg.length;
      continue;
    }
    const head = cutAt(arg, room);
    const args = [...job.args.slice(0, index), ...(head === '' ? [] : [head])];
    const total = job.args.reduce((sum, each) => sum + each.length, 0);
    const shown = args.reduce((sum, each) => sum + each.length, 0);
    return { entry: { ...job, args, argsTruncated: true }, cutCharacters: total - shown };
  }
  return { entry: job, cutCharacters: 0 };
}

/** The first `length` UTF-16 units of `text`, one fewer rather than half a surrogate pair. */
function cutAt(text: string, length: number): string {
  const last = text.charCodeAt(length - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length);
}
