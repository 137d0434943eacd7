// GET /v1/limits tells each role what it may ask for, and what it says is what requests get: a
// job that asks for nothing gets the defaults shown, one above a ceiling shown is refused, and a
// role the answer says may not start jobs or use the host's filesystem cannot.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Limits } from '../../src/contract/limits.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

describe('GET /v1/limits', () => {
  let server: TestServer;
  const limits: Record<string, Limits> = {};

  before(async () => {
    server = await startServer({ env: { DEFAULT_TIMEOUT: '1h' } });
    for (const client of ['admin', 'alice', 'auditor']) {
      const response = await server.request(client, 'GET', '/v1/limits');
      assert.equal(response.status, 200, response.text());
      limits[client] = response.json<Limits>();
    }
  });
  after(async () => {
    await server.dispose();
  });

  it("answers each role its own, and nothing of other clients'", () => {
    assert.deepEqual(
      Object.values(limits).map(({ role, mayStart }) => [role, mayStart]),
      [
        ['admin', true],
        ['user', true],
        ['auditor', false],
      ],
    );
    // The keys are the caller's bounds only: no usage, no other client's name.
    assert.deepEqual(Object.keys(limits.alice!).sort(), [
      'ceilings',
      'clientTotals',
      'defaults',
      'enforceableLimits',
      'mayStart',
      'network',
      'outputBudgetBytes',
      'role',
      'sandbox',
    ]);
    assert.doesNotMatch(JSON.stringify(Object.values(limits)), /alice|bob/);
  });

  it('shows the defaults a job that asks for nothing gets', async () => {
    const alice = limits.alice!;
    assert.equal(alice.defaults.timeoutMs, 3_600_000);
    const job = await server.startJob('alice', { command: 'true' });
    assert.deepEqual(job.limits, alice.defaults.limits);
    assert.equal(job.timeoutMs, alice.defaults.timeoutMs);
    assert.equal(job.sandbox, alice.sandbox.default);
    await server.waitForEnd('alice', job.id);
  });

  it('shows the ceilings a request is held to', async () => {
    const { ceilings, clientTotals } = limits.alice!;
    const cpus = Math.min(ceilings.limits.cpus!, clientTotals.cpus ?? Infinity);
    const above = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', limits: { cpus: cpus + 0.5 } },
    });
    assert.equal(above.status, 400);
    assert.match(above.json().code as string, /^LIMIT_EXCEEDS_(CEILING|CLIENT_TOTAL)$/);
    const within = await server.startJob('alice', { command: 'true', limits: { cpus } });
    assert.equal(within.limits.cpus, cpus);
    await server.waitForEnd('alice', within.id);
    const timeout = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', timeout: ceilings.timeoutMs! / 1000 + 1 },
    });
    assert.equal(timeout.json().code, 'LIMIT_EXCEEDS_CEILING');
  });

  it('shows the sandbox choices each role has', async () => {
    assert.equal(limits.admin!.sandbox.host, true);
    assert.equal(limits.alice!.sandbox.host, false);
    const refused = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', sandbox: 'host' },
    });
    assert.equal(refused.json().code, 'SANDBOX_NOT_ALLOWED');
    assert.deepEqual(limits.alice!.network, { egress: true, host: false, default: 'none' });
    assert.deepEqual(limits.admin!.network, { egress: true, host: true, default: 'none' });
    const started = await server.request('auditor', 'POST', '/v1/jobs', {
      json: { command: 'true' },
    });
    assert.equal(started.json().code, 'FORBIDDEN');
  });
});
