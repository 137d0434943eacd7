// A job's input (PUT /v1/jobs/{id}/stdin): what a writer sends is what the job reads, the end of
// a body is the job's EOF, a writer cut off leaves the input open for the next (also across a
// restart of the server), a job that does not read holds the writer back instead of growing the
// server's memory, and nobody but the owner may write to a job's input.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

const JSON_JOB = { 'content-type': 'application/json' };

/** A PUT of the job's input whose body the test writes piece by piece. */
function openInput(
  server: TestServer,
  client: string,
  id: string,
): { request: ClientRequest; response: Promise<IncomingMessage> } {
  const request = httpsRequest({
    host: '127.0.0.1',
    port: server.port,
    method: 'PUT',
    path: `/v1/jobs/${id}/stdin`,
    headers: { 'content-type': 'application/octet-stream' },
    agent: false,
    ...server.credentials(client),
    servername: 'localhost',
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  return { request, response };
}

/** Resolves once the job's output (followed) contains `text`. */
async function outputContains(server: TestServer, id: string, text: string): Promise<void> {
  const output = await server.open('alice', 'GET', `/v1/jobs/${id}/output?follow=true`);
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    output.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes(text)) resolve();
    });
    output.once('end', () => reject(new Error(`output ended without '${text}': ${seen}`)));
  });
  output.destroy();
}

async function outputOf(server: TestServer, id: string): Promise<string> {
  await server.waitForEnd('alice', id);
  return (await server.request('alice', 'GET', `/v1/jobs/${id}/output`)).text();
}

function rssBytes(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((status) => {
    const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return Number(kib) * 1024;
  });
}

describe('a job reads what its owner writes to its input', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('shows that a job was started with an open input, and by default is not', async () => {
    const open = await server.startJob('alice', { command: 'cat', stdin: true });
    const closed = await server.startJob('alice', { command: 'cat' });
    assert.equal(open.stdin, true);
    assert.equal(closed.stdin, false);
    // Without one the job reads an empty input, as before: cat ends at once.
    assert.equal((await server.waitForEnd('alice', closed.id)).exitCode, 0);
    const response = await server.request('alice', 'PUT', `/v1/jobs/${closed.id}/stdin`, {
      body: 'x',
    });
    assert.equal(response.status, 409);
    assert.equal(response.json<{ code: string }>().code, 'INPUT_NOT_OPEN');
    await server.request('alice', 'PUT', `/v1/jobs/${open.id}/stdin`, { body: '' });
    assert.equal((await server.waitForEnd('alice', open.id)).exitCode, 0);
  });

  it('passes the body to the job and ends its input with the end of the body', async () => {
    const job = await server.startJob('alice', { command: 'wc', args: ['-l'], stdin: true });
    const response = await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, {
      body: 'a\nb\nc\n',
    });
    assert.equal(response.status, 204);
    assert.equal((await outputOf(server, job.id)).trim(), '3');
    const again = await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, { body: 'd' });
    assert.equal(again.status, 409);
  });

  it('keeps the input open when a writer is cut off, for the next writer', async () => {
    const job = await server.startJob('alice', { command: 'cat', stdin: true });
    const first = openInput(server, 'alice', job.id);
    first.request.write('one\n');
    await outputContains(server, job.id, 'one\n');
    first.request.destroy();
    await first.response.catch(() => undefined);
    // The job is still reading: a cut writer is not the end of its input.
    assert.equal(
      (await server.request('alice', 'GET', `/v1/jobs/${job.id}`)).json<Job>().status,
      'running',
    );
    const second = await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, {
      body: 'two\n',
    });
    assert.equal(second.status, 204);
    assert.equal(await outputOf(server, job.id), 'one\ntwo\n');
  });

  it('takes one writer at a time', async () => {
    const job = await server.startJob('alice', { command: 'cat', stdin: true });
    const first = openInput(server, 'alice', job.id);
    first.request.write('first\n');
    await outputContains(server, job.id, 'first\n');
    const second = await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, {
      body: 'second\n',
    });
    assert.equal(second.status, 409);
    assert.equal(second.json<{ code: string }>().code, 'INPUT_BUSY');
    first.request.end('last\n');
    assert.equal((await first.response).statusCode, 204);
    assert.equal(await outputOf(server, job.id), 'first\nlast\n');
  });

  it('answers INPUT_CLOSED when the job stops reading, instead of taking the rest', async () => {
    const job = await server.startJob('alice', {
      command: 'head',
      args: ['-c', '5'],
      stdin: true,
    });
    const response = await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, {
      body: randomBytes(4 * 1024 * 1024),
    });
    assert.equal(response.status, 409);
    assert.equal(response.json<{ code: string }>().code, 'INPUT_CLOSED');
    assert.equal((await server.waitForEnd('alice', job.id)).exitCode, 0);
  });

  it('refuses a job that was not started with an open input', async () => {
    const job = await server.startJob('alice', { command: 'sleep', args: ['30'] });
    const response = await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, {
      body: 'x',
    });
    assert.equal(response.status, 409);
    assert.equal(response.json<{ code: string }>().code, 'INPUT_NOT_OPEN');
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
  });

  it("never lets another client write to a job's input, nor an admin", async () => {
    const job = await server.startJob('alice', { command: 'cat', stdin: true });
    const bob = await server.request('bob', 'PUT', `/v1/jobs/${job.id}/stdin`, { body: 'bob\n' });
    assert.equal(bob.status, 404);
    assert.equal(bob.json<{ code: string }>().code, 'JOB_NOT_FOUND');
    const unknown = await server.request('bob', 'PUT', `/v1/jobs/${crypto.randomUUID()}/stdin`, {
      body: 'x',
    });
    // The same answer as for a job that does not exist: bob learns nothing.
    assert.equal(
      unknown.json<{ detail: string }>().detail.replace(/'.*'/, ''),
      bob.json<{ detail: string }>().detail.replace(/'.*'/, ''),
    );
    for (const client of ['admin', 'auditor']) {
      const refused = await server.request(client, 'PUT', `/v1/jobs/${job.id}/stdin`, {
        body: `${client}\n`,
      });
      assert.equal(refused.status, 403, client);
    }
    await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, { body: 'alice\n' });
    assert.equal(await outputOf(server, job.id), 'alice\n');
  });

  it('records in the audit trail who sent input and how much, never what', async () => {
    const job = await server.startJob('alice', { command: 'cat', stdin: true });
    const secret = 'not-for-the-audit-trail';
    await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, { body: secret });
    await server.waitForEnd('alice', job.id);
    const trail = await server.request('auditor', 'GET', `/v1/audit?job=${job.id}`);
    assert.ok(!trail.text().includes(secret));
    const records = trail.json<{
      records: { action: string; client: { name: string }; details: Record<string, unknown> }[];
    }>().records;
    const input = records.find((record) => record.action === 'job.input');
    assert.ok(input, JSON.stringify(records.map((record) => record.action)));
    assert.equal(input.client.name, 'alice');
    assert.deepEqual(input.details, { bytes: secret.length, ended: true });
  });

  it('holds back a writer while the job does not read: 200 MiB pass, memory stays bounded', async () => {
    // Bounded, not flat: the growth is TLS buffers the collector has not reclaimed yet, 45-70 MiB
    // here whether 100 or 200 MiB pass. A server that kept what it was sent would grow by 200.
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'sleep 2; sha256sum'],
      stdin: true,
      limits: { memory: '256M' },
    });
    const pid = server.child.pid!;
    const before = await rssBytes(pid);
    const { request, response } = openInput(server, 'alice', job.id);
    const hash = createHash('sha256');
    const chunk = randomBytes(1024 * 1024);
    let peak = before;
    for (let i = 0; i < 200; i += 1) {
      hash.update(chunk);
      if (!request.write(chunk)) await new Promise((resolve) => request.once('drain', resolve));
      if (i % 10 === 0) peak = Math.max(peak, await rssBytes(pid));
    }
    request.end();
    assert.equal((await response).statusCode, 204);
    assert.equal((await outputOf(server, job.id)).split(' ')[0], hash.digest('hex'));
    assert.ok(
      peak - before < 100 * 1024 * 1024,
      `server RSS grew by ${((peak - before) / 2 ** 20).toFixed(0)} MiB`,
    );
  });

  it('waits for a queued job to start before writing to it', async () => {
    const queued = await startServer({ env: { CLIENT_MAX_RUNNING: '1' } });
    try {
      const first = await queued.startJob('alice', { command: 'cat', stdin: true });
      const second = await queued.startJob('alice', { command: 'wc', args: ['-c'], stdin: true });
      assert.equal(second.status, 'queued');
      const writing = queued.request('alice', 'PUT', `/v1/jobs/${second.id}/stdin`, {
        body: '12345',
      });
      await queued.request('alice', 'PUT', `/v1/jobs/${first.id}/stdin`, { body: '' });
      assert.equal((await writing).status, 204);
      await queued.waitForEnd('alice', second.id);
      const output = await queued.request('alice', 'GET', `/v1/jobs/${second.id}/output`);
      assert.equal(output.text().trim(), '5');
    } finally {
      await queued.dispose();
    }
  });
});

describe("a job's input across a restart of the server", () => {
  it('stays open when the server restarts, and takes the next writer', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'jobworker-input-'));
    const first = await startServer({ baseDir, env: { SHUTDOWN_POLICY: 'leave-running' } });
    const job = await first.startJob('alice', { command: 'cat', stdin: true });
    const writer = openInput(first, 'alice', job.id);
    writer.request.write('before\n');
    await outputContains(first, job.id, 'before\n');
    writer.request.destroy();
    await writer.response.catch(() => undefined);
    await first.stop();
    const second = await startServer({ baseDir });
    try {
      const response = await second.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, {
        body: 'after\n',
      });
      assert.equal(response.status, 204, response.text());
      assert.equal(await outputOf(second, job.id), 'before\nafter\n');
    } finally {
      await second.dispose();
    }
  });
});

describe('the time a body may take', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it(
    "cuts a JSON body still arriving after 30 s, but not a job's input",
    { timeout: 60_000 },
    async () => {
      const job = await server.startJob('alice', { command: 'wc', args: ['-c'], stdin: true });
      const input = openInput(server, 'alice', job.id);
      input.request.write('a');
      const slow = httpsRequest({
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: '/v1/jobs',
        headers: { ...JSON_JOB, 'content-length': '100' },
        agent: false,
        ...server.credentials('alice'),
        servername: 'localhost',
      });
      const slowEnded = new Promise<string>((resolve) => {
        slow.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
        slow.once('response', (response) => resolve(String(response.statusCode)));
      });
      slow.write('{"command":');
      const started = Date.now();
      // Both trickle a byte every few seconds, past the 30 s a request body may take.
      const trickle = setInterval(() => input.request.write('b'), 5000);
      const cut = await slowEnded;
      clearInterval(trickle);
      const waited = Date.now() - started;
      assert.ok(waited >= 29_000 && waited < 45_000, `cut after ${waited} ms (${cut})`);
      input.request.end('c');
      assert.equal((await input.response).statusCode, 204);
      const count = Number((await outputOf(server, job.id)).trim());
      assert.ok(count >= 7, `the job read ${count} bytes`);
    },
  );
});
