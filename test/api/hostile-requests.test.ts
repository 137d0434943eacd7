// Requests a hostile or careless client sends, each of which once got a wrong answer: a chunked
// body over the limit (a bare 500), a key given twice (the second one ran), a UTF-16 body (read as
// UTF-8), a refused stop audited without the job it aimed at, a running job's output size shown as
// 0, and a browser's cross-site request carrying a client's certificate.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

describe('hostile requests', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('answers a chunked body over 64 KiB with 413 problem+json and closes the connection', async () => {
    const body = JSON.stringify({ command: 'echo', args: ['x'.repeat(70_000)] });
    const answer = await new Promise<{ status: number; type: string; text: string; close: string }>(
      (resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: server.port,
            method: 'POST',
            path: '/v1/jobs',
            headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
            ...server.credentials('alice'),
            servername: 'localhost',
            agent: false,
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () =>
              resolve({
                status: response.statusCode ?? 0,
                type: response.headers['content-type'] ?? '',
                text: Buffer.concat(chunks).toString(),
                close: response.headers.connection ?? '',
              }),
            );
          },
        );
        req.on('error', reject);
        // In pieces, as `curl -T -` sends a pipe.
        for (let at = 0; at < body.length; at += 8192) req.write(body.slice(at, at + 8192));
        req.end();
      },
    );
    assert.equal(answer.status, 413, answer.text);
    assert.equal(answer.type, 'application/problem+json');
    assert.equal((JSON.parse(answer.text) as { code: string }).code, 'PAYLOAD_TOO_LARGE');
    assert.equal(answer.close, 'close');
    const jobs = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>().jobs;
    assert.equal(jobs.length, 0, 'nothing was started');
  });

  it('refuses a body with a key twice in one object, and a charset other than UTF-8', async () => {
    const duplicate = await server.request('alice', 'POST', '/v1/jobs', {
      body: '{"command":"echo","args":["hi"],"env":{"A":"1"},"command":"id"}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(duplicate.status, 400, duplicate.text());
    assert.match(duplicate.json<{ detail: string }>().detail, /"command" twice/);
    const nested = await server.request('alice', 'POST', '/v1/jobs', {
      body: '{"command":"env","env":{"A":"1","\\u0041":"2"}}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(nested.status, 400, 'an escaped spelling of the same key is the same key');
    const same = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      body: '{"command":"echo","args":["command","command"],"env":{"command":"x"}}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(same.status, 201, 'equal keys in different objects, and equal values, are fine');

    const utf16 = await server.request('alice', 'POST', '/v1/jobs', {
      body: Buffer.from('{"command":"true"}', 'utf16le'),
      headers: { 'content-type': 'application/json; charset=utf-16' },
    });
    assert.equal(utf16.status, 415, utf16.text());
    assert.equal(utf16.json().code, 'UNSUPPORTED_MEDIA_TYPE');
    const utf8 = await server.request('alice', 'POST', '/v1/jobs', {
      body: '{"command":"true"}',
      headers: { 'content-type': 'application/json; charset=UTF-8' },
    });
    assert.equal(utf8.status, 201);
  });

  it("audits a refused stop of another client's job with the job's id", async () => {
    const job = await server.startJob('alice', { command: 'sleep', args: ['30'] });
    const refused = await server.request('bob', 'POST', `/v1/jobs/${job.id}/stop`);
    assert.equal(refused.status, 404);
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    await server.waitForEnd('alice', job.id);
    const records = (
      await server.request('auditor', 'GET', `/v1/audit?client=bob&job=${job.id}`)
    ).json<{ records: { action: string; status: number; jobId: string | null }[] }>().records;
    assert.ok(
      records.some((r) => r.action === 'job.stop' && r.status === 404 && r.jobId === job.id),
      JSON.stringify(records),
    );
  });

  it("shows a running job's output size as it grows", async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'head -c 3000000 /dev/zero; echo; sleep 30'],
    });
    // A follower has read every byte from the output file: the file holds them all now.
    const follower = await server.open('alice', 'GET', `/v1/jobs/${job.id}/output?follow=true`);
    let read = 0;
    for await (const chunk of follower) {
      read += (chunk as Buffer).length;
      if (read >= 3_000_001) break;
    }
    follower.destroy();
    const seen = (await server.request('alice', 'GET', `/v1/jobs/${job.id}`)).json<Job>()
      .outputBytes;
    assert.equal(seen, 3_000_001);
    const listed = (await server.request('alice', 'GET', '/v1/jobs?status=running')).json<{
      jobs: Job[];
    }>().jobs;
    assert.equal(listed.find((entry) => entry.id === job.id)?.outputBytes, 3_000_001);
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    await server.waitForEnd('alice', job.id);
  });

  it('answers 431 and 417 as problems with a request id, and says what is left of the rate budget', async () => {
    const huge = await server.request('alice', 'GET', '/healthz', {
      headers: { 'x-padding': 'x'.repeat(20_000) },
    });
    assert.equal(huge.status, 431);
    assert.equal(huge.json().code, 'HEADERS_TOO_LARGE');
    assert.match(String(huge.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(huge.headers['x-request-id'], huge.json().requestId);

    const expect = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true' },
      headers: { expect: 'something-else' },
    });
    assert.equal(expect.status, 417);
    assert.equal(expect.headers['x-request-id'], expect.json().requestId);

    // (The values themselves are tested where the rate is low: test/api/fairness.test.ts.)
    const health = await server.request('alice', 'GET', '/healthz');
    assert.match(String(health.headers['ratelimit-policy']), /^"per-client";q=\d+;w=\d+$/);
    assert.match(String(health.headers.ratelimit), /^"per-client";r=\d+;t=\d+$/);
  });

  it('refuses state-changing requests a browser sends from another site, not from curl or the same origin', async () => {
    const job = await server.startJob('alice', { command: 'sleep', args: ['30'] });
    for (const headers of [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
    ]) {
      const stop = await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`, { headers });
      assert.equal(stop.status, 403, JSON.stringify(headers));
      assert.equal(stop.json().code, 'CROSS_SITE_REQUEST');
      const start = await server.request('alice', 'POST', '/v1/jobs', {
        json: { command: 'true' },
        headers,
      });
      assert.equal(start.status, 403);
    }
    assert.equal(
      (await server.request('alice', 'GET', `/v1/jobs/${job.id}`)).json<Job>().status,
      'running',
    );
    const own = await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`, {
      headers: { 'sec-fetch-site': 'same-origin', origin: `https://127.0.0.1:${server.port}` },
    });
    assert.equal(own.status, 202, own.text());
    await server.waitForEnd('alice', job.id);
  });
});
