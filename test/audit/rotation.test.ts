// Audit rotation (--audit-rotate-size): a full audit.log is closed as audit-SEQ.log and the chain
// goes on in a new one. The whole trail verifies across the files, through the API and the
// offline script alike, and lists across them; a record edited in a closed file is named by file
// and line; once the oldest closed file is shipped away and deleted, the rest still verifies,
// saying after which record it starts. A restart caught between closing a file and opening the
// next goes on from the closed one.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { closedAuditPath } from '../../src/audit/audit-files.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { decodeRecord } from '../../src/audit/audit-record.ts';
import { ensureAuditKey } from '../../src/audit/audit-key.ts';
import { verifyAuditLog } from '../../src/audit/verify-log.ts';
import type { AuditEvent, AuditVerdict, SignedAuditRecord } from '../../src/contract/audit.ts';
import { ROOT, startServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);

/** Small enough that a few records fill a file. */
const ROTATE_SIZE = '4KiB';
/** Refused reads of the trail: each is an audit record. */
const REFUSALS = 40;

const CLOSED_NAME = /^audit-\d{12}\.log$/;

describe('a rotated audit trail', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ env: { AUDIT_ROTATE_SIZE: ROTATE_SIZE } });
    for (let sent = 0; sent < REFUSALS; sent += 10) {
      const batch = Array.from({ length: 10 }, () => server.request('bob', 'GET', '/v1/audit'));
      for (const response of await Promise.all(batch)) assert.equal(response.status, 403);
    }
  });
  after(async () => {
    await server.dispose();
  });

  async function verify(): Promise<AuditVerdict> {
    const response = await server.request('auditor', 'GET', '/v1/audit/verify');
    assert.equal(response.status, 200, response.text());
    return response.json<AuditVerdict>();
  }

  /** The closed files, oldest first, once every record asked for so far is written. */
  async function closedFiles(): Promise<string[]> {
    await verify();
    return (await readdir(server.dataDir)).filter((name) => CLOSED_NAME.test(name)).sort();
  }

  async function lineCount(name: string): Promise<number> {
    return (await readFile(join(server.dataDir, name), 'utf8')).trimEnd().split('\n').length;
  }

  /** `npm run audit -- verify` as an operator runs it: its exit code and what it printed. */
  async function verifyScript(): Promise<{ code: number; stdout: string }> {
    const args = [
      join(ROOT, 'scripts', 'audit.ts'),
      'verify',
      join(server.dataDir, 'audit.log'),
      '--key',
      join(server.certsDir, 'audit-key.pem'),
    ];
    try {
      const { stdout } = await run(process.execPath, args, { cwd: ROOT });
      return { code: 0, stdout };
    } catch (error) {
      const failed = error as { code: number; stdout: string };
      return { code: failed.code, stdout: failed.stdout };
    }
  }

  it('spreads the records over several files, chained across them', async () => {
    const closed = await closedFiles();
    assert.ok(closed.length >= 3, `closed files: ${closed.join(' ')}`);
    let total = await lineCount('audit.log');
    for (const name of closed) total += await lineCount(name);
    assert.ok(total >= REFUSALS, `${total} records`);
    assert.deepEqual(await verify(), { ok: true, records: total, headChecked: true });
    const script = await verifyScript();
    assert.equal(script.code, 0, script.stdout);
    assert.match(script.stdout, new RegExp(`intact, ${total} records, and the signed head agrees`));
    // The listing reads across the files: every record, newest first, none missing.
    const listing = await server.request('auditor', 'GET', '/v1/audit?limit=1000');
    const { records } = listing.json<{ records: SignedAuditRecord[] }>();
    assert.deepEqual(
      records.map((record) => record.seq),
      Array.from({ length: total }, (_, index) => total - index),
    );
  });

  it('names the closed file and line of a record edited there', async () => {
    const closed = await closedFiles();
    const name = closed[1]!;
    const path = join(server.dataDir, name);
    const original = await readFile(path, 'utf8');
    const lines = original.trimEnd().split('\n');
    const [header, payload, signature] = lines[1]!.split('.');
    const record = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as object;
    const forged = Buffer.from(JSON.stringify({ ...record, outcome: 'allowed' }));
    lines[1] = `${header}.${forged.toString('base64url')}.${signature}`;
    await writeFile(path, lines.join('\n') + '\n');
    try {
      assert.deepEqual(await verify(), {
        ok: false,
        file: name,
        line: 2,
        reason: 'the signature does not verify (edited or forged)',
      });
      const script = await verifyScript();
      assert.equal(script.code, 1, script.stdout);
      assert.match(script.stdout, new RegExp(`${name}: record 2 is bad: the signature`));
    } finally {
      await writeFile(path, original);
    }
    assert.equal((await verify()).ok, true);
  });

  it('verifies the rest once the oldest file is shipped away, saying where it starts', async () => {
    const [oldest, ...rest] = await closedFiles();
    const shipped = await lineCount(oldest!);
    let remaining = await lineCount('audit.log');
    for (const name of rest) remaining += await lineCount(name);
    await rm(join(server.dataDir, oldest!));
    assert.deepEqual(await verify(), {
      ok: true,
      records: remaining,
      headChecked: true,
      startsAfter: shipped,
    });
    const script = await verifyScript();
    assert.equal(script.code, 0, script.stdout);
    assert.match(script.stdout, new RegExp(`starting after record ${shipped}:`));
  });
});

describe('restarting a rotated audit log', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jobworker-rotation-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const EVENT: AuditEvent = {
    action: 'job.output',
    outcome: 'allowed',
    status: 200,
    client: { name: 'alice', role: 'user', serial: null, fingerprint256: null },
    jobId: null,
    details: { padding: 'x'.repeat(300) },
  };

  it('goes on from the closed file when it stopped between closing one and opening the next', async () => {
    const key = await ensureAuditKey(work);
    const path = join(work, 'audit.log');
    const logger = pino({ enabled: false });
    const first = await AuditLog.open(path, key, logger, undefined, { rotateBytes: 2048 });
    for (let index = 0; index < 12; index += 1) first.record(EVENT);
    await first.close();
    assert.ok(
      (await readdir(work)).some((name) => CLOSED_NAME.test(name)),
      'it rotated',
    );
    // The rename done, the new file not yet opened: no audit.log at all.
    const firstLine = (await readFile(path, 'utf8')).split('\n')[0]!;
    await rename(path, closedAuditPath(path, decodeRecord(firstLine).seq));
    const second = await AuditLog.open(path, key, logger, undefined, { rotateBytes: 2048 });
    second.record(EVENT);
    const verdict = await second.verify();
    const records = await second.query({ limit: 1000 });
    await second.close();
    // A mismatch with the signed head would have been recorded as audit.head_mismatch.
    assert.deepEqual(
      records.map((record) => `${record.seq} ${record.action}`),
      Array.from({ length: 13 }, (_, index) => `${13 - index} job.output`),
    );
    assert.deepEqual(verdict, { ok: true, records: 13, headChecked: true });
    assert.deepEqual(await verifyAuditLog(path, key.publicKey), verdict);
  });
});
