// A request rate limit per client identity (not per address: many clients may share a NAT, and
// one client may come from many hosts). A token bucket per client: a steady rate with room for
// bursts; a client over it gets 429 with the seconds until its next request would be accepted.
import type { Next } from 'koa';
import { RouteError } from './problem.ts';
import type { AppContext } from './state.ts';

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

export function rateLimitPerClient(limit: RateLimit, now: () => number = () => performance.now()) {
  // One bucket per certificate name: bounded by the number of clients the CA certified.
  const buckets = new Map<string, Bucket>();
  return async function rateLimit(ctx: AppContext, next: Next): Promise<void> {
    const name = ctx.state.identity.name;
    const time = now();
    const bucket = buckets.get(name) ?? { tokens: limit.burst, refilledAt: time };
    bucket.tokens = Math.min(
      limit.burst,
      bucket.tokens + ((time - bucket.refilledAt) / 1000) * limit.perSecond,
    );
    bucket.refilledAt = time;
    buckets.set(name, bucket);
    if (bucket.tokens < 1) {
      announce(ctx, limit, bucket.tokens);
      const retryAfterSeconds = Math.ceil((1 - bucket.tokens) / limit.perSecond);
      throw new RouteError(
        'TOO_MANY_REQUESTS',
        `client '${name}' is over its limit of ${limit.perSecond} requests per second ` +
          `(bursts of ${limit.burst}); retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
    bucket.tokens -= 1;
    announce(ctx, limit, bucket.tokens);
    await next();
  };
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
