// A request rate limit per client identity (not per address: many clients may share a NAT, and
// one client may come from many hosts). A token bucket per client: a steady rate with room for
// bursts; a client over it gets 429 with the seconds until its next request would be accepted.
// A request costs one token when it arrives; an answer that costs the server more (a large
// listing) charges the rest as it is sent, and may leave the bucket below zero: the client's next
// requests then wait until it has filled again, so a loop of large answers is paced like a loop
// of as many small ones.
import type { Next } from 'koa';
import type { AppContext } from '../state.ts';
import { TooManyRequestsError } from '../../errors.ts';

export interface RateLimit {
  /** Requests per second each client may make, on average. */
  readonly perSecond: number;
  /** How many requests a client may make at once after being idle. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export class ClientRateLimit {
  readonly #limit: RateLimit;
  readonly #now: () => number;
  // One bucket per certificate name: bounded by the number of clients the CA certified.
  readonly #buckets = new Map<string, Bucket>();

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.#limit = limit;
    this.#now = now;
  }

  /** The middleware: each request costs one token, and is refused while there is not one. */
  readonly middleware = async (ctx: AppContext, next: Next): Promise<void> => {
    const limit = this.#limit;
    const name = ctx.state.identity.name;
    const bucket = this.#refilled(name);
    if (bucket.tokens < 1) {
      announce(ctx, limit, bucket.tokens);
      const retryAfterSeconds = Math.ceil((1 - bucket.tokens) / limit.perSecond);
      throw new TooManyRequestsError(
        `client '${name}' is over its limit of ${limit.perSecond} requests per second ` +
          `(bursts of ${limit.burst}, large answers counting as several); retry in ` +
          `${retryAfterSeconds} s`,
        retryAfterSeconds,
      );
    }
    bucket.tokens -= 1;
    announce(ctx, limit, bucket.tokens);
    await next();
  };

  /** Charges a client `requests` more for an answer being made; its bucket may go below zero. */
  charge(client: string, requests: number): void {
    this.#refilled(client).tokens -= requests;
  }

  /** How long until a client's bucket is no longer below zero: 0 when it is not. */
  owedMs(client: string): number {
    const { tokens } = this.#refilled(client);
    return tokens >= 0 ? 0 : Math.ceil((-tokens / this.#limit.perSecond) * 1000);
  }

  /** The client's bucket, refilled for the time since it was last touched. */
  #refilled(name: string): Bucket {
    const limit = this.#limit;
    const time = this.#now();
    const bucket = this.#buckets.get(name) ?? { tokens: limit.burst, refilledAt: time };
    bucket.tokens = Math.min(
      limit.burst,
      bucket.tokens + ((time - bucket.refilledAt) / 1000) * limit.perSecond,
    );
    bucket.refilledAt = time;
    this.#buckets.set(name, bucket);
    return bucket;
  }
}

/**
 * The client's budget in the IETF httpapi RateLimit fields (structured-field form): the policy
 * as a quota of `burst` requests per the window in which an empty bucket fills again, and what
 * is left now with the seconds until the bucket is full.
 */
function announce(ctx: AppContext, limit: RateLimit, tokens: number): void {
  const window = Math.ceil(limit.burst / limit.perSecond);
  const remaining = Math.max(0, Math.floor(tokens));
  const untilFull = Math.ceil((limit.burst - tokens) / limit.perSecond);
  ctx.set('RateLimit-Policy', `"per-client";q=${limit.burst};w=${window}`);
  ctx.set('RateLimit', `"per-client";r=${remaining};t=${untilFull}`);
}
