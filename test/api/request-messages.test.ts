// A refused job request says what is wrong in the words of the API: the field the client sent and
// what it expects, never a validator's phrase ("Invalid key in record"); sizes in the unit the
// client wrote them in (issue 36).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

/** Each bad request and the exact detail of its 400. */
const BAD_REQUESTS: readonly (readonly [Record<string, unknown> | string, string])[] = [
  [
    { command: 'env', env: { 'BAD NAME': '1' } },
    "env: 'BAD NAME' is not a valid variable name (letters, digits and _; not starting with a digit)",
  ],
  [{ command: '' }, 'command: must not be empty'],
  [{ args: [] }, 'command: required'],
  [{ command: 3 }, 'command: expected a string, got 3'],
  [{ command: 'ls', args: 'a' }, 'args: expected a list, got the string "a"'],
  [{ command: 'ls', args: ['a', 3] }, 'args.1: expected a string, got 3'],
  [{ command: 'ls', extra: 1 }, "(body): unknown field 'extra'"],
  [{ command: 'ls', limits: { bogus: 1 } }, "limits: unknown field 'bogus'"],
  [{ command: 'ls', limits: { memory: -1 } }, 'limits.memory: must be more than 0'],
  [{ command: 'ls', limits: { cpus: 0 } }, 'limits.cpus: must be at least 0.01'],
  [{ command: 'ls', limits: { pids: 1.5 } }, 'limits.pids: expected a whole number, got 1.5'],
  [{ command: 'ls', tty: 'yes' }, 'tty: expected true or false, got the string "yes"'],
  [{ command: 'ls', env: [] }, 'env: expected an object, got a list'],
  [{ command: 'ls', sandbox: 'none' }, 'sandbox: expected "private" or "host"'],
  ['"ls"', '(body): expected an object, got the string "ls"'],
];

describe('request messages in the words of the API', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('names the field and what it expects for each bad request', async () => {
    const seen: string[] = [];
    for (const [body] of BAD_REQUESTS) {
      const response = await server.request('alice', 'POST', '/v1/jobs', {
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(response.status, 400, response.text());
      seen.push(String(response.json().detail));
    }
    assert.deepEqual(
      seen,
      BAD_REQUESTS.map(([, detail]) => `invalid job request: ${detail}`),
    );
    for (const detail of seen) assert.doesNotMatch(detail, /Invalid|received|record/);
  });

  it('names a size above the ceiling in the unit the client wrote', async () => {
    const gibi = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', limits: { memory: '300Gi' } },
    });
    assert.equal(gibi.status, 400);
    assert.equal(gibi.json().detail, "limits.memory 300Gi exceeds the ceiling 4Gi for role 'user'");
    const megabytes = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', limits: { memory: '5000MB' } },
    });
    assert.equal(
      megabytes.json().detail,
      "limits.memory 5000MB exceeds the ceiling 4096MB for role 'user'",
    );
  });

  it('takes MB as binary, as docker does', async () => {
    const job = await server.startJob('alice', { command: 'true', limits: { memory: '64MB' } });
    assert.equal(job.limits.memoryBytes, 64 * 1024 ** 2);
    await server.waitForEnd('alice', job.id);
  });
});
