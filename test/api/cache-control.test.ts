// No cache keeps an answer of the API: every route, its successes and its problems alike (from
// the routes, identity, the cross-site rule, the rate limiter, routing, and the malformed-HTTP
// answers written outside Koa), carries `Cache-Control: no-store`. Only the console's own files,
// which hold no data, are `no-cache` (revalidated on every load).
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

/** A client's rate: low enough for bob to reach a 429 in a few dozen requests. */
const REQUESTS_PER_SECOND = 20;

interface Row {
  readonly client: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
}

describe('Cache-Control on every answer', () => {
  let server: TestServer;
  let ended: Job;

  before(async () => {
    server = await startServer({ env: { CLIENT_RATE_LIMIT: String(REQUESTS_PER_SECOND) } });
    ended = await server.waitForEnd(
      'alice',
      (await server.startJob('alice', { command: 'echo', args: ['hi'] })).id,
    );
  });
  after(async () => {
    await server.dispose();
  });

  it('is no-store on every route of the API, its successes and its problems', async () => {
    const job = `/v1/jobs/${ended.id}`;
    const rows: readonly Row[] = [
      { client: 'alice', method: 'GET', path: '/healthz', status: 200 },
      { client: 'alice', method: 'HEAD', path: '/healthz', status: 200 },
      { client: 'alice', method: 'OPTIONS', path: '/v1/jobs', status: 200 },
      { client: 'alice', method: 'GET', path: '/v1/jobs', status: 200 },
      { client: 'alice', method: 'GET', path: '/v1/jobs?status=sleeping', status: 400 },
      { client: 'alice', method: 'GET', path: job, status: 200 },
      { client: 'bob', method: 'GET', path: job, status: 404 },
      { client: 'alice', method: 'GET', path: `${job}/output`, status: 200 },
      { client: 'alice', method: 'GET', path: `${job}/output?follow=true`, status: 200 },
      { client: 'alice', method: 'POST', path: `${job}/stop`, status: 409 },
      { client: 'alice', method: 'PUT', path: `${job}/stdin`, status: 409 },
      { client: 'alice', method: 'POST', path: '/v1/jobs', status: 201, json: { command: 'true' } },
      { client: 'alice', method: 'POST', path: '/v1/jobs', status: 400, json: { command: '' } },
      { client: 'auditor', method: 'POST', path: '/v1/jobs', status: 403, json: { command: 'x' } },
      { client: 'alice', method: 'PUT', path: '/v1/jobs', status: 405 },
      { client: 'alice', method: 'GET', path: '/v1/limits', status: 200 },
      { client: 'auditor', method: 'GET', path: '/v1/audit', status: 200 },
      { client: 'alice', method: 'GET', path: '/v1/audit', status: 403 },
      { client: 'admin', method: 'GET', path: '/v1/audit/verify', status: 200 },
      { client: 'bob', method: 'GET', path: '/.well-known/jwks.json', status: 200 },
      { client: 'admin', method: 'GET', path: '/metrics', status: 200 },
      { client: 'alice', method: 'GET', path: '/metrics', status: 403 },
      { client: 'alice', method: 'GET', path: '/openapi.json', status: 200 },
      { client: 'alice', method: 'GET', path: '/v2/nothing', status: 404 },
      { client: 'alice', method: 'GET', path: '/ui/nothing.js', status: 404 },
      {
        client: 'alice',
        method: 'GET',
        path: '/healthz',
        status: 403,
        headers: { 'sec-fetch-site': 'cross-site' },
      },
      {
        client: 'alice',
        method: 'GET',
        path: '/healthz',
        status: 431,
        headers: { 'x-padding': 'x'.repeat(20_000) },
      },
      {
        client: 'alice',
        method: 'POST',
        path: '/v1/jobs',
        status: 417,
        json: { command: 'true' },
        headers: { expect: 'something-else' },
      },
    ];
    const wrong: string[] = [];
    for (const row of rows) {
      const answer = await server.request(row.client, row.method, row.path, {
        ...(row.json === undefined ? {} : { json: row.json }),
        ...(row.headers === undefined ? {} : { headers: row.headers }),
      });
      const said = `${row.client} ${row.method} ${row.path.slice(0, 60)} → ${answer.status}`;
      assert.equal(answer.status, row.status, `${said}: ${answer.text().slice(0, 200)}`);
      if (answer.headers['cache-control'] !== 'no-store')
        wrong.push(`${said}: ${answer.headers['cache-control']}`);
    }
    assert.deepEqual(wrong, []);
  });

  it("is no-store on the rate limiter's 429", async () => {
    let answer = await server.request('bob', 'GET', '/healthz');
    // Sequentially, far faster than the bucket fills: the burst is spent within a few dozen.
    for (let sent = 1; answer.status === 200 && sent < 10 * REQUESTS_PER_SECOND; sent++)
      answer = await server.request('bob', 'GET', '/healthz');
    assert.equal(answer.status, 429);
    assert.equal(answer.json().code, 'TOO_MANY_REQUESTS');
    assert.equal(answer.headers['cache-control'], 'no-store');
  });

  it('is no-store on a problem answered to malformed HTTP, outside the app', async () => {
    const head = await rawAnswerHead(server, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.match(head, /\r\ncache-control: no-store\r\n/i);
  });

  it("is no-cache on the console's page and files, which hold no data", async () => {
    for (const path of ['/', `/jobs/${ended.id}`, '/ui/app.js']) {
      const answer = await server.request('alice', 'GET', path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.headers['cache-control'], 'no-cache', path);
    }
  });
});

/** The status line and headers the server writes back for `payload` sent over TLS as alice. */
function rawAnswerHead(server: TestServer, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: server.port,
      servername: 'localhost',
      ...server.credentials('alice'),
    });
    const chunks: Buffer[] = [];
    socket.once('secureConnect', () => socket.write(payload));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    // The server closes the connection once it has answered.
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve(text.slice(0, text.indexOf('\r\n\r\n') + 2));
    });
  });
}
