// How many jobs one client may create a minute (`--client-job-rate`). Every job is a record in
// the database and in the audit trail, however little it runs: the request rate limit bounds
// requests, this bounds records. A token bucket per client, as the request limit has
// (src/api/middleware/rate-limit.ts): a minute's worth at once, then the steady rate, so a suite that starts
// thousands of jobs in a burst is not held up while a client starting jobs without end is.
import { JobRateExceededError } from '../errors.ts';

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export class JobRate {
  /** New jobs a client may create a minute, and at once after a quiet minute. */
  readonly perMinute: number;
  readonly #now: () => number;
  /** One bucket per client name: bounded by the number of clients the CA certified. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(perMinute: number, now: () => number = () => performance.now()) {
    if (!(perMinute > 0))
      throw new RangeError(`jobs per minute must be positive, not ${perMinute}`);
    this.perMinute = perMinute;
    this.#now = now;
  }

  /**
   * Takes one job's turn for `owner`, or throws JobRateExceededError (429) with the seconds until
   * it has one again. Called as the job is recorded: a refused start costs no turn.
   */
  take(owner: string): void {
    const time = this.#now();
    const bucket = this.#buckets.get(owner) ?? { tokens: this.perMinute, refilledAt: time };
    const perMs = this.perMinute / 60_000;
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (time - bucket.refilledAt) * perMs);
    bucket.refilledAt = time;
    this.#buckets.set(owner, bucket);
    if (bucket.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      throw new JobRateExceededError(owner, this.perMinute, retryAfterSeconds);
    }
    bucket.tokens -= 1;
  }
}
