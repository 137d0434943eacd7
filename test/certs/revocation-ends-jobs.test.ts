// Revoking a client certificate ends what it started (issue 31, finding 10): its queued jobs
// never start and end `stopped` with an error naming the revocation; its running jobs are stopped
// (`--on-revoke stop`, the default) or run on (`leave`); another client's jobs are untouched. The
// same holds for a certificate revoked while the server was down. Each client may run one job at
// a time here, so a second job waits in the queue.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runCerts } from '../helpers/certs-script.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

const ONE_AT_A_TIME = { CLIENT_MAX_RUNNING: '1' };
/** Each takes a few seconds; before the fix they would wait out `sleep 300` instead. */
const DEADLINE = { timeout: 30_000 };
const NEVER_STARTED = /^its client certificate \(serial [0-9a-f]+\) was revoked; it never started$/;

interface AuditRecord {
  action: string;
  client: { serial: string | null };
  details: { outcome?: string };
}

/** A client's certificate serial in the form jobs record it: lower-case hex, no leading zeros. */
function serialOf(server: TestServer, client: string): string {
  const { serialNumber } = new X509Certificate(server.credentials(client).cert);
  return serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
}

async function start(server: TestServer, client: string, command: string[]): Promise<Job> {
  const [name, ...args] = command;
  return server.startJob(client, { command: name, args });
}

async function recordOf(server: TestServer, id: string): Promise<Job> {
  return (await server.request('admin', 'GET', `/v1/jobs/${id}`)).json<Job>();
}

/** Revokes a client as an operator does, and resolves once the server has loaded the new CRL. */
async function revoke(server: TestServer, client: string): Promise<void> {
  const mark = server.logs.length;
  const revoked = await runCerts(server.certsDir, ['revoke', client]);
  assert.equal(revoked.code, 0, revoked.stderr);
  await server.waitForLog((entry) => entry.msg === 'TLS credentials reloaded', mark);
}

/**
 * The log lines since `since`, once every request answered so far has been logged: as
 * TestServer.logsSettled, with admin's marker request (alice's certificate is revoked here).
 */
async function logsSettled(
  server: TestServer,
  since: number,
): Promise<Record<string, unknown>[]> {
  const marker = (await server.request('admin', 'GET', '/healthz')).headers['x-request-id'];
  await server.waitForLog((entry) => entry.requestId === marker, since);
  return server.logs.slice(since);
}

/** The status changes a job went through, as the server logged them. */
function transitionsOf(logs: readonly Record<string, unknown>[], id: string): string[] {
  return logs
    .filter((entry) => entry.msg === 'job transition' && entry.jobId === id)
    .map((entry) => `${String(entry.from)}->${String(entry.to)}`);
}

/** A queued job the revocation ended: stopped, never started, no output, never `starting`. */
async function assertNeverStarted(
  server: TestServer,
  job: Job,
  logs: readonly Record<string, unknown>[],
): Promise<void> {
  const ended = await server.waitForEnd('admin', job.id);
  assert.equal(ended.status, 'stopped');
  assert.match(String(ended.error), NEVER_STARTED);
  assert.equal(ended.startedAt, null);
  const output = await server.request('admin', 'GET', `/v1/jobs/${job.id}/output`);
  assert.equal(output.status, 200);
  assert.equal(output.body.length, 0, 'it wrote nothing: it never ran');
  assert.deepEqual(transitionsOf(logs, job.id), ['queued->stopped']);
}

async function revocationRecords(server: TestServer, id: string): Promise<AuditRecord[]> {
  const audit = await server.request('auditor', 'GET', `/v1/audit?job=${id}`);
  return audit.json<{ records: AuditRecord[] }>().records.filter((r) => r.action === 'job.revoked');
}

describe('a revoked client certificate, with the default --on-revoke stop', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: ONE_AT_A_TIME });
  });
  after(() => server.dispose());

  it("stops its running job, never starts its queued ones, and leaves bob's alone", DEADLINE, async () => {
    const running = await start(server, 'alice', ['sleep', '300']);
    const queued = [
      await start(server, 'alice', ['echo', 'never']),
      await start(server, 'alice', ['echo', 'never']),
    ];
    const bobRunning = await start(server, 'bob', ['sleep', '300']);
    const bobQueued = await start(server, 'bob', ['echo', 'bob']);
    assert.equal(running.status, 'running');
    assert.deepEqual(
      queued.map((job) => job.status),
      ['queued', 'queued'],
    );
    assert.equal(bobQueued.status, 'queued');
    const alice = serialOf(server, 'alice');
    assert.equal(running.clientSerial, alice, 'each job records the serial that started it');
    assert.equal(bobRunning.clientSerial, serialOf(server, 'bob'));

    const mark = server.logs.length;
    await revoke(server, 'alice');

    const stopped = await server.waitForEnd('admin', running.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.signal, 'SIGTERM', 'stopped with the usual grace');
    assert.equal(stopped.error, `its client certificate (serial ${alice}) was revoked`);
    const logs = await logsSettled(server, mark);
    for (const job of queued) await assertNeverStarted(server, job, logs);

    assert.equal((await recordOf(server, bobRunning.id)).status, 'running');
    assert.equal((await recordOf(server, bobQueued.id)).status, 'queued');
    assert.deepEqual(transitionsOf(logs, bobRunning.id), [], "nothing happened to bob's jobs");
    assert.deepEqual(transitionsOf(logs, bobQueued.id), []);

    const [stopRecord] = await revocationRecords(server, running.id);
    assert.equal(stopRecord?.details.outcome, 'stopped');
    assert.equal(stopRecord.client.serial, alice);
    const [queuedRecord] = await revocationRecords(server, queued[0]?.id ?? '');
    assert.equal(queuedRecord?.details.outcome, 'never started');

    // bob's queue still drains: his queued job runs once his running one is stopped.
    await server.request('bob', 'POST', `/v1/jobs/${bobRunning.id}/stop`);
    const bobRan = await server.waitForEnd('bob', bobQueued.id);
    assert.equal(bobRan.status, 'exited');
  });
});

describe('a revoked client certificate, with --on-revoke leave', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: ONE_AT_A_TIME, args: ['--on-revoke', 'leave'] });
  });
  after(() => server.dispose());

  it('leaves its running job running, and still never starts its queued one', DEADLINE, async () => {
    const running = await start(server, 'alice', ['sleep', '300']);
    const queued = await start(server, 'alice', ['echo', 'never']);
    assert.equal(queued.status, 'queued');

    const mark = server.logs.length;
    await revoke(server, 'alice');
    const ended = 'jobs of revoked client certificates ended';
    await server.waitForLog((entry) => entry.msg === ended, mark);
    // The queued job ended in the same pass that would have stopped the running one.
    const logs = await logsSettled(server, mark);
    await assertNeverStarted(server, queued, logs);
    const left = await recordOf(server, running.id);
    assert.equal(left.status, 'running');
    assert.equal(left.stopRequestedAt, null);
    const [record] = await revocationRecords(server, running.id);
    assert.equal(record?.details.outcome, 'left running');
    await server.request('admin', 'POST', `/v1/jobs/${running.id}/stop`);
  });
});

describe('a client certificate revoked while the server was down', () => {
  let server: TestServer;
  after(() => server.dispose());

  it('ends its jobs as the server starts: the running one stopped, the queued one never started', DEADLINE, async () => {
    // leave-running: the running job survives the restart, as a daemon restart leaves it.
    const env = { ...ONE_AT_A_TIME, SHUTDOWN_POLICY: 'leave-running' };
    server = await startServer({ env });
    const running = await start(server, 'alice', ['sleep', '300']);
    const queued = await start(server, 'alice', ['echo', 'never']);
    await server.stop();
    const revoked = await runCerts(server.certsDir, ['revoke', 'alice']);
    assert.equal(revoked.code, 0, revoked.stderr);

    // The default test policy, stop, so that nothing outlives this test if it fails.
    server = await startServer({ baseDir: server.baseDir, env: ONE_AT_A_TIME });
    const stopped = await server.waitForEnd('admin', running.id);
    assert.equal(stopped.status, 'stopped');
    const alice = serialOf(server, 'alice');
    assert.equal(stopped.error, `its client certificate (serial ${alice}) was revoked`);
    await assertNeverStarted(server, queued, await logsSettled(server, 0));
  });
});
