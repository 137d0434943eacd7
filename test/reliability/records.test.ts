// Job records are bounded (issue 31, finding 6: a client grew the database and the audit trail
// at 3.5 MiB/s, outside any budget, with jobs of `true` and a 60,000-byte argument). A start's
// audit record carries a hash of a long argument instead of all of it; what the records of a
// client's jobs hold has an allowance; a client creates at most so many jobs a minute. Over
// either, a client is refused while others are served.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type Response, type TestServer } from '../helpers/server.ts';

const KIB = 1024;

function problemOf(response: Response): { code: string; detail: string } {
  return response.json<{ code: string; detail: string }>();
}

describe('a start with a long argument in the audit trail', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    await server.dispose();
  });

  it(
    'grows the trail by far less than the arguments of 250 jobs',
    { timeout: 120_000 },
    async (t) => {
      const argument = 'a'.repeat(60_000);
      const auditLog = join(server.dataDir, 'audit.log');
      // Every record appended so far is on disk once a verification has been answered.
      const settled = async (): Promise<number> => {
        assert.equal((await server.request('auditor', 'GET', '/v1/audit/verify')).status, 200);
        return statSync(auditLog).size;
      };
      const database = (): number =>
        ['jobworker.db', 'jobworker.db-wal']
          .map((file) => statSync(join(server.dataDir, file), { throwIfNoEntry: false })?.size ?? 0)
          .reduce((sum, size) => sum + size, 0);
      const before = await settled();
      const databaseBefore = database();
      const ids: string[] = [];
      for (let i = 0; i < 250; i += 25) {
        const jobs = await Promise.all(
          Array.from({ length: 25 }, () =>
            server.startJob('alice', { command: 'true', args: [argument] }),
          ),
        );
        ids.push(...jobs.map((job) => job.id));
      }
      const growth = (await settled()) - before;
      t.diagnostic(
        `250 starts with a 60,000-byte argument: audit log +${growth} bytes, ` +
          `database +${database() - databaseBefore} bytes`,
      );
      // Whole, the arguments alone were 15 MB, and the trail grew by 19 MiB.
      assert.ok(growth < 1024 * KIB, `the audit log grew by ${growth} bytes`);

      const records = await server.request('auditor', 'GET', `/v1/audit?job=${ids[0]}&limit=10`);
      const start = records
        .json<{ records: { action: string; details: Record<string, unknown> }[] }>()
        .records.find((record) => record.action === 'job.start');
      assert.ok(start !== undefined);
      assert.equal(start.details.args, undefined);
      const json = JSON.stringify([argument]);
      assert.deepEqual(start.details.argsDigest, {
        head: ['a'.repeat(1024)],
        count: 1,
        bytes: json.length,
        sha256: createHash('sha256').update(json).digest('hex'),
      });
    },
  );
});

describe("a client's record allowance and job rate", () => {
  let server: TestServer;
  /** Costs 60,010 bytes of records: its command, and its arguments and names as JSON. */
  const longJob = { command: 'true', args: ['b'.repeat(60_000)] };

  before(async () => {
    server = await startServer({
      env: { CLIENT_RECORD_BYTES: '256KiB', CLIENT_JOB_RATE: '8' },
    });
  });

  after(async () => {
    await server.dispose();
  });

  it('refuses a job past the allowance (507) while another client is served', async () => {
    // 4 x 60,010 bytes fit in 256 KiB; a fifth does not.
    const kept: Job[] = [];
    for (let i = 0; i < 4; i += 1) kept.push(await server.startJob('alice', longJob));
    const refused = await server.request('alice', 'POST', '/v1/jobs', { json: longJob });
    assert.equal(refused.status, 507, refused.text());
    const problem = problemOf(refused);
    assert.equal(problem.code, 'RECORD_ALLOWANCE_EXCEEDED');
    assert.match(problem.detail, /keeps 234\.\d KiB of job records .* allowance of 256 KiB/);
    await server.startJob('admin', longJob);
    // A small one still fits, and deleting an ended job makes room for a long one again.
    await server.startJob('alice', { command: 'true', args: ['short'] });
    const ended = await server.waitForEnd('alice', kept[0]!.id);
    assert.equal((await server.request('alice', 'DELETE', `/v1/jobs/${ended.id}`)).status, 204);
    await server.startJob('alice', longJob);
    const listed = await server.request('alice', 'GET', '/v1/jobs');
    assert.equal(listed.json<{ jobs: Job[] }>().jobs.length, 5, 'no record of a refused start');
  });

  it('refuses a job past the rate (429, Retry-After) while another client is served', async () => {
    // bob's bucket holds 8, refilled at one every 7.5 s.
    for (let i = 0; i < 8; i += 1) await server.startJob('bob', { command: 'true' });
    const refused = await server.request('bob', 'POST', '/v1/jobs', { json: { command: 'true' } });
    assert.equal(refused.status, 429, refused.text());
    assert.equal(problemOf(refused).code, 'JOB_RATE_EXCEEDED');
    assert.match(problemOf(refused).detail, /8 new jobs a minute/);
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 8, `Retry-After: ${retryAfter}`);
    // Other requests of his are served, and alice, who started six, starts more.
    assert.equal((await server.request('bob', 'GET', '/v1/jobs')).status, 200);
    await server.startJob('alice', { command: 'true' });
  });
});
