// The streamed listing and the rate limit it charges, without a server: long args are cut to the
// limit (on the line, never through a surrogate pair) and flagged, everything else is the record;
// a listing charges its client for what it reads and waits while the client's budget is spent;
// listings open at once take turns a batch at a time; a client in debt is refused until it has
// paid.
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { BYTES_PER_REQUEST, listingBody, ListingTurns } from '../../src/api/jobs/job-listing.ts';
import { ClientRateLimit } from '../../src/api/middleware/rate-limit.ts';
import type { AppContext } from '../../src/api/state.ts';
import { LISTED_ARGS_CHARACTERS, type ListedJob } from '../../src/contract/jobs.ts';
import type { Job } from '../../src/jobs/job.ts';

const LIMIT = LISTED_ARGS_CHARACTERS;

/** Enough of a job record for a listing: the listing passes every other field through. */
function jobWith(args: readonly string[], id = 'job'): Job {
  return { id, command: 'echo', args, status: 'exited' } as unknown as Job;
}

/** A listing of `jobs`, its reads and charges recorded. */
function listingOf(jobs: readonly Job[], options: { waitMs?: () => number } = {}) {
  const reads: number[][] = [];
  let charged = 0;
  const listing = {
    positions: jobs.map((_, index) => index),
    read: (positions: readonly number[]) => {
      reads.push([...positions]);
      return positions.map((position) => jobs[position]!);
    },
    charge: (requests: number) => (charged += requests),
    waitMs: options.waitMs ?? (() => 0),
  };
  return { listing, reads, charged: () => charged };
}

async function listed(jobs: readonly Job[]): Promise<ListedJob[]> {
  const body = listingBody(listingOf(jobs).listing, new ListingTurns());
  return (JSON.parse(await text(body)) as { jobs: ListedJob[] }).jobs;
}

describe('a listing', () => {
  it('is the records themselves when the args are short, and valid JSON when empty', async () => {
    const jobs = [jobWith(['a', 'b']), jobWith(['x'.repeat(LIMIT)]), jobWith([])];
    assert.deepEqual(await listed(jobs), jobs);
    assert.deepEqual(await listed([]), []);
  });

  it('cuts args past the limit on the line, leaves the rest out, and says so', async () => {
    const [first, second, third, fourth] = await listed([
      jobWith(['y'.repeat(60_000)]),
      jobWith(['a'.repeat(LIMIT - 100), 'b'.repeat(200), 'c']),
      jobWith(['a'.repeat(LIMIT), 'b', '']),
      // An emoji across the line is left out whole, not cut in half.
      jobWith([`${'x'.repeat(LIMIT - 1)}😀`]),
    ]);
    assert.deepEqual(first?.args, ['y'.repeat(LIMIT)]);
    assert.deepEqual(second?.args, ['a'.repeat(LIMIT - 100), 'b'.repeat(100)]);
    assert.deepEqual(third?.args, ['a'.repeat(LIMIT)]);
    assert.deepEqual(fourth?.args, ['x'.repeat(LIMIT - 1)]);
    for (const entry of [first, second, third, fourth]) assert.equal(entry?.argsTruncated, true);
  });

  it('charges its client one request per 64 KiB it reads, past the first', async () => {
    const jobs = Array.from({ length: 300 }, (_, i) => jobWith(['y'.repeat(60_000)], `job-${i}`));
    const { listing, reads, charged } = listingOf(jobs);
    const body = await text(listingBody(listing, new ListingTurns()));
    // What was read: every record as stored, the 60,000 characters of each cut args included.
    const read = 300 * 60_000 + body.length - 300 * LIMIT;
    assert.ok(Math.abs(charged() - (read / BYTES_PER_REQUEST - 1)) < 1, `charged ${charged()}`);
    assert.ok(reads.every((batch) => batch.length <= 25));
  });

  it('waits while its client has no budget, and reads on once it has', async () => {
    let waits = 0;
    const started = performance.now();
    const { listing, reads } = listingOf([jobWith(['a'])], {
      waitMs: () => (waits++ < 2 ? 30 : 0),
    });
    await text(listingBody(listing, new ListingTurns()));
    assert.equal(reads.length, 1);
    assert.ok(performance.now() - started >= 55, `read after ${performance.now() - started} ms`);
  });

  it('takes turns with the other listings open, one batch a turn of the event loop', async () => {
    const turns = new ListingTurns();
    const order: string[] = [];
    let done = false;
    // Marks each turn of the event loop.
    const tick = (): void => {
      order.push('turn');
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const bodies = ['A', 'B'].map((name) => {
      const jobs = Array.from({ length: 75 }, (_, i) => jobWith(['a'], `${name}-${i}`));
      const { listing } = listingOf(jobs);
      return listingBody(
        {
          ...listing,
          read: (positions) => {
            order.push(name);
            return listing.read(positions);
          },
        },
        turns,
      );
    });
    await Promise.all(bodies.map((body) => text(body)));
    done = true;
    const reads = order.filter((entry) => entry !== 'turn');
    assert.deepEqual(reads, ['A', 'B', 'A', 'B', 'A', 'B']);
    // Never two batches in one turn, whichever listing they are of.
    const together = order.filter((entry, i) => entry !== 'turn' && order[i - 1] !== 'turn');
    assert.deepEqual(together, [], order.join(' '));
  });

  it('stops reading when its client goes away', async () => {
    const jobs = Array.from({ length: 100 }, (_, i) => jobWith(['a'], `job-${i}`));
    const { listing, reads } = listingOf(jobs);
    const body = listingBody(listing, new ListingTurns());
    await new Promise((resolve) => body.once('data', resolve));
    body.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reads.length, 1);
  });
});

describe('the rate limit', () => {
  function contextOf(name: string): AppContext & { headers: Record<string, string> } {
    const headers: Record<string, string> = {};
    return {
      state: { identity: { name } },
      headers,
      set: (field: string, value: string) => (headers[field] = value),
    } as unknown as AppContext & { headers: Record<string, string> };
  }

  const next = (): Promise<void> => Promise.resolve();

  it('refuses a client in debt until it has paid, and says when', async () => {
    let now = 0;
    const limit = new ClientRateLimit({ perSecond: 10, burst: 20 }, () => now);
    await limit.middleware(contextOf('alice'), next);
    limit.charge('alice', 49);
    assert.equal(limit.owedMs('alice'), 3000);
    assert.equal(limit.owedMs('bob'), 0);
    await assert.rejects(limit.middleware(contextOf('alice'), next), {
      code: 'TOO_MANY_REQUESTS',
      retryAfterSeconds: 4,
    });
    // Others are not held up by alice's debt.
    await limit.middleware(contextOf('bob'), next);
    now = 4000;
    assert.equal(limit.owedMs('alice'), 0);
    const context = contextOf('alice');
    await limit.middleware(context, next);
    assert.equal(context.headers.RateLimit, '"per-client";r=9;t=2');
  });
});
