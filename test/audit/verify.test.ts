// Verifying the audit trail on the server (GET /v1/audit/verify): the whole chain against its
// signed head, consistent while every audited request appends to the same files, a tampered
// record named by its line, and only for the roles that may read the trail.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { pino } from 'pino';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { ensureAuditKey } from '../../src/audit/audit-key.ts';
import { verifyAuditLog } from '../../src/audit/verify-log.ts';
import type { AuditEvent, AuditVerdict } from '../../src/contract/audit.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

/** How many records are appended while the checks run. */
const RECORDS = 500;

const EVENT: AuditEvent = {
  action: 'job.output',
  outcome: 'allowed',
  status: 200,
  client: { name: 'alice', role: 'user', serial: null, fingerprint256: null },
  jobId: null,
  details: { padding: 'x'.repeat(500) },
};

describe('verifying the audit log while it is appended to', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jobworker-verify-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('checks the chain as it stood between two appends, never a record half-counted', async () => {
    const key = await ensureAuditKey(work);
    const path = join(work, 'audit.log');
    let appended = 0;
    const log = await AuditLog.open(path, key, pino({ enabled: false }), () => (appended += 1));
    assert.deepEqual(await log.verify(), { ok: true, records: 0, headChecked: false });
    // Records keep coming while the checks read, a few ahead of the disk at any time: every
    // moment of an append (record written, head not yet) can meet a check.
    let recorded = 0;
    const writer = (async () => {
      for (; recorded < RECORDS; await turn()) {
        for (; recorded - appended < 3 && recorded < RECORDS; recorded += 1) log.record(EVENT);
      }
    })();
    const verdicts: AuditVerdict[] = [];
    while (appended < RECORDS) verdicts.push(await log.verify());
    await writer;
    await log.close();
    assert.ok(verdicts.length >= 5, `${verdicts.length} checks`);
    for (const verdict of verdicts) {
      assert.ok(verdict.ok && verdict.headChecked, JSON.stringify(verdict));
    }
    const counts = verdicts.map((verdict) => (verdict.ok ? verdict.records : -1));
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => a - b),
      'each check sees at least as much',
    );
    assert.ok(counts.at(-1)! > counts[0]!, `records were appended meanwhile: ${counts.join(' ')}`);
    assert.equal((await verifyAuditLog(path, key.publicKey)).ok, true);
  });
});

function ok(records: number): AuditVerdict {
  return { ok: true, records, headChecked: true };
}

describe('GET /v1/audit/verify', () => {
  let server: TestServer;
  let logPath: string;

  before(async () => {
    server = await startServer();
    logPath = join(server.dataDir, 'audit.log');
    const job = await server.startJob('alice', { command: 'echo', args: ['audited'] });
    await server.waitForEnd('alice', job.id);
    await server.request('alice', 'DELETE', `/v1/jobs/${job.id}`);
  });
  after(async () => {
    await server.dispose();
  });

  async function verify(): Promise<AuditVerdict> {
    const response = await server.request('auditor', 'GET', '/v1/audit/verify');
    assert.equal(response.status, 200, response.text());
    return response.json<AuditVerdict>();
  }

  /**
   * The log once every record of an earlier answer is in it. A request's record is queued
   * before its answer is sent, and a check waits for what was queued before it; checks are not
   * audited themselves (reading the trail is no job action), so the log then stays as it is.
   */
  async function settledLog(): Promise<string> {
    await verify();
    return readFile(logPath, 'utf8');
  }

  it('finds the whole chain intact, head included', async () => {
    const count = (await settledLog()).trimEnd().split('\n').length;
    assert.ok(count >= 3, `${count} records`);
    assert.deepEqual(await verify(), ok(count));
    const admin = await server.request('admin', 'GET', '/v1/audit/verify');
    assert.deepEqual(admin.json(), ok(count));
  });

  it('gives a consistent verdict while requests append records', async () => {
    const before = (await settledLog()).trimEnd().split('\n').length;
    // Each refused read of the trail is an audit record: bob's requests append as the checks run.
    const appends = Array.from({ length: 200 }, () => server.request('bob', 'GET', '/v1/audit'));
    const checks = Array.from({ length: 10 }, () => verify());
    const verdicts = await Promise.all(checks);
    assert.ok((await Promise.all(appends)).every((response) => response.status === 403));
    for (const verdict of verdicts) {
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      assert.ok(verdict.ok && verdict.records >= before && verdict.records <= before + 200);
    }
    // Once the appends have been answered, the next check counts every one of them.
    assert.deepEqual(await verify(), ok(before + 200));
  });

  it('is refused to users with the same problem as the trail itself', async () => {
    const verifying = await server.request('alice', 'GET', '/v1/audit/verify');
    const reading = await server.request('alice', 'GET', '/v1/audit');
    assert.equal(verifying.status, 403);
    const { code, detail } = verifying.json<{ code: string; detail: string }>();
    assert.deepEqual({ code, detail }, { code: 'FORBIDDEN', detail: reading.json().detail });
  });

  it('names the first bad record of a tampered log, and a log cut short, with a 200', async () => {
    const original = await settledLog();
    const log = original.trimEnd().split('\n');
    try {
      const [header, payload, signature] = log[2]!.split('.');
      const record = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as object;
      const forged = Buffer.from(JSON.stringify({ ...record, outcome: 'denied' }));
      const edited = [...log];
      edited[2] = `${header}.${forged.toString('base64url')}.${signature}`;
      await writeFile(logPath, edited.join('\n') + '\n');
      assert.deepEqual(await verify(), {
        ok: false,
        file: 'audit.log',
        line: 3,
        reason: 'the signature does not verify (edited or forged)',
      });
      await writeFile(logPath, log.slice(0, -1).join('\n') + '\n');
      assert.deepEqual(await verify(), {
        ok: false,
        file: 'audit.log',
        line: log.length,
        reason: `the signed head says ${log.length} records, the file has ${log.length - 1} (records cut off the end)`,
      });
    } finally {
      await writeFile(logPath, original);
    }
    // Nothing was appended meanwhile: put back, it holds.
    assert.deepEqual(await verify(), ok(log.length));
  });
});
