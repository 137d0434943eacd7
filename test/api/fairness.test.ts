// One client cannot exhaust the host for the others: a request rate limit and a cap on running
// jobs, both per client identity, each answered with 429, a problem+json body and Retry-After.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

describe('per-client request rate limit', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { CLIENT_RATE_LIMIT: '5' } });
  });
  after(() => server.dispose());

  it('answers 429 with Retry-After once a client exceeds its burst; others are unaffected', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => server.request('bob', 'GET', '/v1/jobs')),
    );
    const accepted = answers.filter((answer) => answer.status === 200).length;
    const limited = answers.filter((answer) => answer.status === 429);
    assert.ok(accepted >= 10 && accepted <= 12, `${accepted} accepted: a burst of 10`);
    assert.equal(accepted + limited.length, 30);
    const problem = limited[0]!;
    assert.equal(problem.headers['content-type'], 'application/problem+json');
    assert.equal(problem.json().code, 'TOO_MANY_REQUESTS');
    // The IETF RateLimit fields: a burst of 10 refilled at 5/s (2 s), nothing left now.
    assert.equal(problem.headers['ratelimit-policy'], '"per-client";q=10;w=2');
    assert.match(String(problem.headers.ratelimit), /^"per-client";r=0;t=2$/);
    const fresh = await server.request('alice', 'GET', '/v1/jobs');
    assert.equal(fresh.headers.ratelimit, '"per-client";r=9;t=1');
    const retryAfter = Number(problem.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter}`);
    assert.equal((await server.request('alice', 'GET', '/v1/jobs')).status, 200);
    // Waiting as long as the server said is the behaviour under test, not synchronisation.
    await delay(retryAfter * 1000);
    assert.equal((await server.request('bob', 'GET', '/v1/jobs')).status, 200);
  });
});

describe('per-client cap on running jobs', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { CLIENT_MAX_RUNNING: '2' } });
  });
  after(() => server.dispose());

  it('lets exactly the cap start, even when requests race, and frees a slot when a job ends', async () => {
    const sleeper = { command: 'sleep', args: ['60'] };
    // ?queue=false: past the cap, a 429 rather than a place in the queue (test/api/queue.test.ts).
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        server.request('alice', 'POST', '/v1/jobs?queue=false', { json: sleeper }),
      ),
    );
    const started = answers.filter((answer) => answer.status === 201);
    assert.equal(started.length, 2);
    const refused = answers.find((answer) => answer.status === 429)!;
    assert.equal(refused.json().code, 'TOO_MANY_JOBS');
    assert.equal(refused.headers['retry-after'], '1');
    assert.match(String(refused.json().detail), /already has 2 jobs running/);

    const bob = await server.request('bob', 'POST', '/v1/jobs', { json: sleeper });
    assert.equal(bob.status, 201, 'another client is not held back');

    const first = started[0]!.json<{ id: string }>().id;
    await server.request('alice', 'POST', `/v1/jobs/${first}/stop`);
    await server.waitForEnd('alice', first);
    const again = await server.request('alice', 'POST', '/v1/jobs?queue=false', { json: sleeper });
    assert.equal(again.status, 201);
  });
});
