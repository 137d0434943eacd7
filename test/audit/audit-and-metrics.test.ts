// The audit trail and metrics of a real server: every job action and denial leaves a signed,
// chained record that anyone can verify offline with the published key; tampering of any kind is
// found and the first bad record named; metrics move when jobs run.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, copyFile, appendFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { ROOT, startServer, type TestServer } from '../helpers/server.ts';

interface Record {
  seq: number;
  action: string;
  outcome: string;
  status: number | null;
  client: { name: string | null; role: string | null; serial: string | null };
  jobId: string | null;
  details: { [key: string]: unknown };
  jws: string;
}

function verifyScript(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts', 'audit.ts'), 'verify', ...args],
      (error, stdout) => resolvePromise({ code: error === null ? 0 : Number(error.code), stdout }),
    );
  });
}

/** Connects without a client certificate; resolves once the server has closed the connection. */
function connectWithoutCertificate(server: TestServer): Promise<void> {
  return new Promise((resolvePromise) => {
    const req = request({
      host: '127.0.0.1',
      port: server.port,
      path: '/healthz',
      ca: server.credentials('alice').ca,
      servername: 'localhost',
      agent: false,
    });
    req.on('error', () => resolvePromise());
    req.on('response', () => resolvePromise());
    req.end();
  });
}

async function metricValue(server: TestServer, pattern: RegExp): Promise<number> {
  const text = (await server.request('auditor', 'GET', '/metrics')).text();
  const line = text.split('\n').find((candidate) => pattern.test(candidate));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('audit trail', () => {
  let server: TestServer;
  let jobId: string;
  let work: string;

  before(async () => {
    server = await startServer();
    work = await mkdtemp(join(tmpdir(), 'jobworker-audit-'));
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'echo audited; sleep 30'],
      env: { SECRET_TOKEN: 'hunter2' },
      limits: { memory: '64MiB' },
    });
    jobId = job.id;
    await server.waitForOutput('alice', jobId);
    await server.request('alice', 'POST', `/v1/jobs/${jobId}/stop`);
    await server.waitForEnd('alice', jobId);
    await server.request('alice', 'DELETE', `/v1/jobs/${jobId}`);
    assert.equal(
      (await server.request('auditor', 'POST', '/v1/jobs', { json: { command: 'true' } })).status,
      403,
    );
    assert.equal((await server.request('bob', 'GET', '/v1/audit')).status, 403);
    await connectWithoutCertificate(server);
  });

  after(async () => {
    await server.dispose();
    await rm(work, { recursive: true, force: true });
  });

  async function records(query = ''): Promise<Record[]> {
    const response = await server.request('auditor', 'GET', `/v1/audit${query}`);
    assert.equal(response.status, 200, response.text());
    return response.json<{ records: Record[] }>().records;
  }

  it('records every job action with who did it, and never an environment value', async () => {
    const mine = await records(`?job=${jobId}`);
    const actions = mine.map((record) => record.action).reverse();
    assert.deepEqual(
      actions.filter((action) => action !== 'job.output'),
      ['job.start', 'job.stop', 'job.delete'],
    );
    assert.ok(actions.includes('job.output'));
    const start = mine.find((record) => record.action === 'job.start')!;
    assert.equal(start.outcome, 'allowed');
    assert.equal(start.status, 201);
    assert.equal(start.client.name, 'alice');
    assert.equal(start.client.role, 'user');
    assert.match(start.client.serial ?? '', /^[0-9A-F]+$/);
    assert.deepEqual(start.details.args, ['-c', 'echo audited; sleep 30']);
    assert.deepEqual(start.details.envNames, ['SECRET_TOKEN']);
    // The limits the job actually got: what it asked for, and the defaults for the rest.
    assert.deepEqual(start.details.limits, { cpus: 1, memoryBytes: 64 * 1024 * 1024, pids: 512 });
    const everything = JSON.stringify(await records('?limit=1000'));
    assert.doesNotMatch(everything, /hunter2/);
  });

  it('records denials: a forbidden action, a forbidden read, a refused TLS client', async () => {
    const all = await records('?limit=1000');
    const forbiddenStart = all.find(
      (record) => record.action === 'job.start' && record.client.name === 'auditor',
    );
    assert.equal(forbiddenStart?.outcome, 'denied');
    assert.equal(forbiddenStart?.status, 403);
    const forbiddenRead = all.find(
      (record) => record.action === 'auth.denied' && record.client.name === 'bob',
    );
    assert.equal(forbiddenRead?.details.path, '/v1/audit');
    const refused = await server.waitForLog((line) => line.msg === 'TLS client refused', 0);
    assert.equal(refused.code, 'NO_CLIENT_CERTIFICATE');
    const tls = (await records('?limit=1000')).find((record) => record.action === 'tls.refused');
    assert.equal(tls?.outcome, 'denied');
    assert.equal(tls?.details.code, 'NO_CLIENT_CERTIFICATE');
  });

  it('filters by client, job and time, newest first, and refuses bad filters', async () => {
    const alice = await records('?client=alice');
    assert.ok(alice.length >= 4);
    assert.ok(alice.every((record) => record.client.name === 'alice'));
    assert.ok(alice[0]!.seq > alice.at(-1)!.seq, 'newest first');
    const future = await records(`?since=${encodeURIComponent('2999-01-01T00:00:00Z')}`);
    assert.deepEqual(future, []);
    assert.equal((await records('?limit=2')).length, 2);
    for (const bad of ['?limit=0', '?job=not-a-uuid', '?since=yesterday', '?color=red']) {
      const response = await server.request('auditor', 'GET', `/v1/audit${bad}`);
      assert.equal(response.status, 400, bad);
      assert.equal(response.headers['content-type'], 'application/problem+json');
    }
  });

  it('signs every record with the key published at /.well-known/jwks.json', async () => {
    const jwks = (
      await server.request('bob', 'GET', '/.well-known/jwks.json')
    ).json<JSONWebKeySet>();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.crv, 'Ed25519');
    const keySet = createLocalJWKSet(jwks);
    for (const record of await records('?limit=5')) {
      const { payload } = await compactVerify(record.jws, keySet);
      const signed = JSON.parse(new TextDecoder().decode(payload)) as Record;
      assert.equal(signed.seq, record.seq);
      assert.equal(signed.action, record.action);
    }
  });

  describe('tampering is found, and the first bad record named', () => {
    let log: string[];
    let jwksPath: string;
    let headPath: string;

    before(async () => {
      // Work on copies. Nothing is audited meanwhile (reading the trail is not a job action),
      // so the head copied here matches the log read after it.
      jwksPath = join(work, 'jwks.json');
      await writeFile(
        jwksPath,
        (await server.request('auditor', 'GET', '/.well-known/jwks.json')).body,
      );
      headPath = join(work, 'head');
      await copyFile(join(server.dataDir, 'audit.log.head'), headPath);
      log = (await readFile(join(server.dataDir, 'audit.log'), 'utf8')).trimEnd().split('\n');
      assert.ok(log.length >= 6, `${log.length} records`);
    });

    async function verify(
      lines: string[],
      suffix = '\n',
    ): Promise<{ code: number; stdout: string }> {
      const path = join(work, `audit-${Math.random().toString(16).slice(2)}.log`);
      await writeFile(path, lines.join('\n') + suffix);
      return verifyScript([path, '--jwks', jwksPath, '--head', headPath]);
    }

    it('an intact copy verifies, head included', async () => {
      const result = await verify(log);
      assert.equal(result.code, 0, result.stdout);
      assert.match(
        result.stdout,
        new RegExp(`intact, ${log.length} records, and the signed head agrees`),
      );
    });

    it('an edited record', async () => {
      const [header, payload, signature] = log[2]!.split('.');
      const record = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record;
      const forged = Buffer.from(JSON.stringify({ ...record, outcome: 'denied' })).toString(
        'base64url',
      );
      const edited = [...log];
      edited[2] = `${header}.${forged}.${signature}`;
      const result = await verify(edited);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /record 3 is bad: the signature does not verify/);
    });

    it('a deleted record', async () => {
      const result = await verify([...log.slice(0, 1), ...log.slice(2)]);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /record 2 is bad: sequence number 3 where 2 belongs/);
    });

    it('reordered records', async () => {
      const reordered = [log[0]!, log[2]!, log[1]!, ...log.slice(3)];
      const result = await verify(reordered);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /record 2 is bad/);
    });

    it('a log cut in the middle of a record', async () => {
      const cut = [...log.slice(0, -1), log.at(-1)!.slice(0, 40)];
      const result = await verify(cut, '');
      assert.equal(result.code, 1);
      assert.match(
        result.stdout,
        new RegExp(`record ${log.length} is bad: the last record is cut off`),
      );
    });

    it('a removed head', async () => {
      const path = join(work, 'no-head.log');
      await writeFile(path, log.join('\n') + '\n');
      const result = await verifyScript([path, '--jwks', jwksPath, '--head', join(work, 'gone')]);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /no signed head .* cannot be ruled out/);
      const chainOnly = await verifyScript([path, '--jwks', jwksPath, '--no-head']);
      assert.equal(chainOnly.code, 0, chainOnly.stdout);
    });

    it('records cut off the end', async () => {
      const result = await verify(log.slice(0, -2));
      assert.equal(result.code, 1);
      assert.match(
        result.stdout,
        new RegExp(`record ${log.length - 1} is bad: the signed head says ${log.length} records`),
      );
    });
  });
});

describe('audit trail across restarts', () => {
  it('continues the chain after a restart and after a crash mid-record', async () => {
    let server = await startServer();
    const baseDir = server.baseDir;
    try {
      await server.startJob('alice', { command: 'true' });
      await server.stop();
      await appendFile(join(baseDir, 'data', 'audit.log'), 'eyJhbGciOi');
      server = await startServer({ baseDir });
      await server.startJob('bob', { command: 'true' });
      await server.waitForLog((line) => /partial record/.test(String(line.msg)), 0);
      await server.stop();
      const result = await verifyScript([
        join(baseDir, 'data', 'audit.log'),
        '--key',
        join(baseDir, 'certs', 'audit-key.pem'),
      ]);
      assert.equal(result.code, 0, result.stdout);
      const text = await readFile(join(baseDir, 'data', 'audit.log'), 'utf8');
      assert.match(
        Buffer.from(text.trimEnd().split('\n').at(-2)!.split('.')[1]!, 'base64url').toString(),
        /audit\.recovered/,
      );
    } finally {
      await server.dispose();
    }
  });
});

describe('audit trail cut short while the server was down', () => {
  it('records the mismatch with its signed head when it starts again', async () => {
    let server = await startServer();
    const baseDir = server.baseDir;
    try {
      await server.startJob('alice', { command: 'true' });
      await server.startJob('alice', { command: 'true' });
      await server.stop();
      const path = join(baseDir, 'data', 'audit.log');
      const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
      await writeFile(path, lines.slice(0, -1).join('\n') + '\n');
      server = await startServer({ baseDir });
      await server.waitForLog((line) => /does not match its signed head/.test(String(line.msg)), 0);
      const records = (await server.request('auditor', 'GET', '/v1/audit?limit=5')).json<{
        records: Record[];
      }>().records;
      const mismatch = records.find((record) => record.action === 'audit.head_mismatch');
      assert.equal((mismatch?.details.signedHead as { seq: number }).seq, lines.length);
      assert.equal((mismatch?.details.found as { seq: number }).seq, lines.length - 1);
    } finally {
      await server.dispose();
    }
  });
});

describe('metrics', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.dispose());

  it('move when jobs run and output is read', async () => {
    const startedBefore = await metricValue(server, /^jobworker_jobs_started_total /);
    const servedBefore = await metricValue(server, /^jobworker_output_bytes_served_total /);
    const job = await server.startJob('alice', {
      command: 'head',
      args: ['-c', '100000', '/dev/zero'],
    });
    await server.waitForEnd('alice', job.id);
    const output = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    assert.equal(output.body.length, 100_000);
    assert.equal(await metricValue(server, /^jobworker_jobs_started_total /), startedBefore + 1);
    assert.ok(
      (await metricValue(server, /^jobworker_output_bytes_served_total /)) >=
        servedBefore + 200_000,
    );
    assert.ok((await metricValue(server, /^jobworker_jobs\{status="exited"\} /)) >= 1);
    assert.ok((await metricValue(server, /^jobworker_jobs_ended_total\{status="exited"\} /)) >= 1);
    assert.ok((await metricValue(server, /^jobworker_output_bytes_written_total /)) >= 100_000);
    assert.equal(await metricValue(server, /^jobworker_output_readers /), 0);
    const histogram = await metricValue(
      server,
      /^jobworker_http_request_duration_seconds_count\{method="GET",route="\/v1\/jobs\/:id\/output",status="200"\} /,
    );
    assert.ok(histogram >= 2);
  });

  it('count refused TLS clients by reason', async () => {
    const before = await metricValue(
      server,
      /^jobworker_tls_refused_total\{reason="NO_CLIENT_CERTIFICATE"\} /,
    );
    await connectWithoutCertificate(server);
    await server.waitForLog((line) => line.msg === 'TLS client refused', 0);
    assert.equal(
      await metricValue(server, /^jobworker_tls_refused_total\{reason="NO_CLIENT_CERTIFICATE"\} /),
      before + 1,
    );
  });

  it('are for admins and auditors, in Prometheus text format', async () => {
    const metrics = await server.request('admin', 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.text(), /# TYPE jobworker_jobs gauge/);
    const denied = await server.request('alice', 'GET', '/metrics');
    assert.equal(denied.status, 403);
    assert.equal(denied.json().code, 'FORBIDDEN');
  });
});
