// Bad input gets a clear problem+json answer with the right status, and loses nothing: the
// server keeps serving afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

describe('errors are problem+json with the right status', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  async function problem(
    client: string,
    method: string,
    path: string,
    options: Parameters<TestServer['request']>[3] = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await server.request(client, method, path, options);
    assert.equal(response.headers['content-type'], 'application/problem+json', response.text());
    const body = response.json();
    assert.equal(body.status, response.status);
    assert.equal(typeof body.title, 'string');
    assert.equal(typeof body.detail, 'string');
    assert.equal(typeof body.type, 'string');
    assert.ok(!response.text().includes('    at '), 'no stack trace');
    return { status: response.status, body };
  }

  it('400 for malformed JSON', async () => {
    const { status, body } = await problem('alice', 'POST', '/v1/jobs', {
      body: '{"command": ',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(status, 400);
    assert.equal(body.code, 'INVALID_REQUEST');
    assert.match(String(body.detail), /not valid JSON/);
  });

  it('400 naming each invalid field', async () => {
    const { status, body } = await problem('alice', 'POST', '/v1/jobs', {
      json: { command: '', args: ['ok', 3], env: { '1BAD': 'x' }, cwd: 'relative', extra: true },
    });
    assert.equal(status, 400);
    const fields = (body.errors as { field: string }[]).map((error) => error.field).sort();
    assert.deepEqual(fields, ['(body)', 'args.1', 'command', 'cwd', 'env']);
  });

  it('400 for a limit above the role ceiling, naming the limit', async () => {
    const { status, body } = await problem('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', limits: { memory: '1TiB' } },
    });
    assert.equal(status, 400);
    assert.equal(body.code, 'LIMIT_EXCEEDS_CEILING');
    assert.match(String(body.detail), /limits\.memory/);
  });

  it('400 for a bad query parameter', async () => {
    const job = await server.startJob('alice', { command: 'true' });
    const { status, body } = await problem('alice', 'GET', `/v1/jobs/${job.id}/output?stream=both`);
    assert.equal(status, 400);
    assert.match(String(body.detail), /\?stream/);
  });

  it('403 when the role forbids the action', async () => {
    const { status, body } = await problem('auditor', 'POST', '/v1/jobs', {
      json: { command: 'true' },
    });
    assert.equal(status, 403);
    assert.equal(body.code, 'FORBIDDEN');
  });

  it('404 for an unknown job, a malformed id and an unknown route', async () => {
    for (const path of [
      '/v1/jobs/00000000-0000-4000-8000-000000000000',
      '/v1/jobs/..%2F..%2Fetc%2Fpasswd/output',
      '/v1/nothing',
    ]) {
      const { status } = await problem('alice', 'GET', path);
      assert.equal(status, 404, path);
    }
  });

  it('405 for a method a route does not have', async () => {
    const { status } = await problem('alice', 'PUT', '/v1/jobs');
    assert.equal(status, 405);
  });

  it('409 when stopping a job that has ended', async () => {
    const job = await server.startJob('alice', { command: 'true' });
    await server.waitForEnd('alice', job.id);
    const { status, body } = await problem('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    assert.equal(status, 409);
    assert.equal(body.code, 'JOB_ALREADY_ENDED');
  });

  it('413 for a body that is too large', async () => {
    const { status } = await problem('alice', 'POST', '/v1/jobs', {
      json: { command: 'echo', args: ['x'.repeat(100_000)] },
    });
    assert.equal(status, 413);
  });

  it('415 for a body that is not JSON', async () => {
    const { status, body } = await problem('alice', 'POST', '/v1/jobs', {
      body: 'command=ls',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(status, 415);
    assert.equal(body.code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('keeps serving after all of the above', async () => {
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'echo', args: ['still here'] },
    });
    assert.equal(response.text(), 'still here\n');
  });
});
