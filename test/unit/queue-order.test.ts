// The queue's order without a server: round-robin between clients after the one served last,
// skipping heads that cannot start now.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextToStart } from '../../src/worker/queue-order.ts';

const heads = [{ owner: 'carol' }, { owner: 'alice' }, { owner: 'bob' }];
const always = (): boolean => true;

describe('nextToStart', () => {
  it('takes clients in name order, starting after the one served last', () => {
    assert.equal(nextToStart(heads, undefined, always)?.owner, 'alice');
    assert.equal(nextToStart(heads, 'alice', always)?.owner, 'bob');
    assert.equal(nextToStart(heads, 'bob', always)?.owner, 'carol');
    assert.equal(nextToStart(heads, 'carol', always)?.owner, 'alice');
    // A client served last that has nothing queued any more: the next name after it.
    assert.equal(nextToStart(heads, 'bz', always)?.owner, 'carol');
  });

  it('passes over heads that cannot start, and answers none when none can', () => {
    const notBob = (head: { owner: string }): boolean => head.owner !== 'bob';
    assert.equal(nextToStart(heads, 'alice', notBob)?.owner, 'carol');
    assert.equal(
      nextToStart(heads, 'alice', () => false),
      undefined,
    );
    assert.equal(nextToStart([], undefined, always), undefined);
  });

  it('gives a client with one job its turn after at most one start of another', () => {
    // alice has many queued jobs (her head is always there); bob arrives with one.
    let servedLast: string | undefined;
    const order: string[] = [];
    let bobWaiting = true;
    for (let start = 0; start < 4; start++) {
      const now = bobWaiting ? [{ owner: 'alice' }, { owner: 'bob' }] : [{ owner: 'alice' }];
      const next = nextToStart(now, servedLast, always);
      order.push(next?.owner ?? '-');
      servedLast = next?.owner;
      if (next?.owner === 'bob') bobWaiting = false;
    }
    assert.deepEqual(order, ['alice', 'bob', 'alice', 'alice']);
  });
});
