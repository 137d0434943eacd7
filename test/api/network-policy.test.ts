// A job's network mode as a client sees it (issue 33): the record says which mode a job got, the
// server's default applies to a job that names none (within what its role may have), a role asks
// only for the modes the operator allows it (403 with a code naming the mode), a bad value is a
// 400 problem, a bad network setting stops the server's start with a sentence naming it, and
// the modes are real: `none` has only its loopback, `host` the host's own interfaces.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

/** The interfaces /proc/net/dev lists, sorted: what a process in that network sees. */
function interfacesIn(procNetDev: string): string[] {
  return procNetDev
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name !== '')
    .sort();
}

/** A job's output once it has ended, with its record. */
async function runToEnd(
  server: TestServer,
  client: string,
  spec: Record<string, unknown>,
): Promise<{ job: Job; stdout: string }> {
  const started = await server.startJob(client, spec);
  const job = await server.waitForEnd(client, started.id);
  const output = await server.request(client, 'GET', `/v1/jobs/${job.id}/output?stream=stdout`);
  return { job, stdout: output.text() };
}

describe('the network settings', () => {
  it('default to none, egress for admins and users, the host for admins', () => {
    const config = loadConfig([], {});
    assert.equal(config.networkDefault, 'none');
    assert.deepEqual([...config.networkEgressRoles], ['admin', 'user']);
    assert.deepEqual([...config.networkHostRoles], ['admin']);
    assert.equal(config.networkJobCidr, '10.200.0.0/16');
    assert.deepEqual(config.networkEgressAllow, []);
    assert.deepEqual(config.networkTestPublic, []);
    // The host's resolvers, less those on loopback, which a job cannot reach.
    for (const resolver of config.networkDns) assert.doesNotMatch(resolver, /^127\./);
  });

  it('read the allow list, the resolvers and --host-network, the alias of the host default', () => {
    const config = loadConfig(
      ['--network-egress-allow', '10.250.0.0/24:80, 192.0.2.7:8000-8080,198.51.100.0/24'],
      { NETWORK_DNS: '10.250.0.2', HOST_NETWORK: 'true' },
    );
    assert.deepEqual(config.networkEgressAllow, [
      { cidr: '10.250.0.0/24', ports: { from: 80, to: 80 } },
      { cidr: '192.0.2.7/32', ports: { from: 8000, to: 8080 } },
      { cidr: '198.51.100.0/24' },
    ]);
    assert.deepEqual(config.networkDns, ['10.250.0.2']);
    assert.equal(config.networkDefault, 'host');
  });

  it('refuse a bad value with one line naming the setting and what it expects', () => {
    const refusals: [Record<string, string>, RegExp][] = [
      [
        { NETWORK_DEFAULT: 'bridge' },
        /--network-default \(NETWORK_DEFAULT\) must be one of none, egress, host, got 'bridge'/,
      ],
      [{ NETWORK_EGRESS_ROLES: 'user,guest' }, /NETWORK_EGRESS_ROLES\) has unknown roles guest/],
      [{ NETWORK_HOST_ROLES: 'root' }, /NETWORK_HOST_ROLES\) has unknown roles root/],
      [
        { NETWORK_JOB_CIDR: '10.200.0.1/16' },
        /host bits are not 0: did you mean 10\.200\.0\.0\/16\?/,
      ],
      [{ NETWORK_JOB_CIDR: '10.200.0.0/30' }, /must be an IPv4 range from \/8 to \/24/],
      [
        { NETWORK_EGRESS_ALLOW: '10.0.0.0/33' },
        /must name IPv4 ranges such as 10\.200\.0\.0\/16, got '10\.0\.0\.0\/33'/,
      ],
      [{ NETWORK_EGRESS_ALLOW: 'example.org:443' }, /got 'example\.org\/32'/],
      [
        { NETWORK_EGRESS_ALLOW: '10.0.0.0/8:0' },
        /'10\.0\.0\.0\/8:0': ports must be PORT or PORT-PORT, each from 1 to 65535/,
      ],
      [{ NETWORK_EGRESS_ALLOW: '10.0.0.0/8:70000' }, /each from 1 to 65535/],
      [{ NETWORK_EGRESS_ALLOW: '10.0.0.0/8:443-80' }, /the port range 443-80 runs backwards/],
      [{ NETWORK_DNS: '127.0.0.53' }, /on the host's loopback, which a job never reaches/],
      [{ NETWORK_DNS: '2001:db8::53' }, /must list IPv4 addresses of resolvers/],
      [{ NETWORK_TEST_PUBLIC: '198.51.100.0' }, /NETWORK_TEST_PUBLIC\) must name IPv4 ranges/],
      [{ HOST_NETWORK: 'true', NETWORK_DEFAULT: 'egress' }, /contradicts --network-default egress/],
    ];
    for (const [env, message] of refusals) {
      assert.throws(
        () => loadConfig([], env),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
        JSON.stringify(env),
      );
    }
  });

  it("stop the server's start, which names the setting", async () => {
    await assert.rejects(
      startServer({ env: { NETWORK_EGRESS_ALLOW: '10.0.0.0/8:443-80' } }),
      /--network-egress-allow \(NETWORK_EGRESS_ALLOW\) has '10\.0\.0\.0\/8:443-80': the port range 443-80 runs backwards/,
    );
  });
});

describe('a job asks for its network within its role', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('records none for a job that names no mode, which has only its loopback', async () => {
    const { job, stdout } = await runToEnd(server, 'alice', {
      command: 'cat',
      args: ['/proc/net/dev'],
    });
    assert.equal(job.network, 'none');
    assert.equal(job.exitCode, 0, job.error ?? '');
    assert.deepEqual(interfacesIn(stdout), ['lo']);
  });

  it("gives an admin's host job the host's own interfaces", async () => {
    const { job, stdout } = await runToEnd(server, 'admin', {
      command: 'cat',
      args: ['/proc/net/dev'],
      network: 'host',
    });
    assert.equal(job.network, 'host');
    assert.equal(job.exitCode, 0, job.error ?? '');
    const host = interfacesIn(await readFile('/proc/net/dev', 'utf8'));
    assert.ok(host.length > 1, 'the host has an interface besides lo');
    assert.deepEqual(interfacesIn(stdout), host);
  });

  it('refuses a user the host network with 403 NETWORK_HOST_FORBIDDEN, and says so in the audit', async () => {
    const refused = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', network: 'host' },
    });
    assert.equal(refused.status, 403);
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
    const problem = refused.json();
    assert.equal(problem.code, 'NETWORK_HOST_FORBIDDEN');
    assert.match(String(problem.detail), /role 'user' may not run jobs with "network": "host"/);
    assert.deepEqual(problem.errors, [
      { field: 'network', message: '"host" not allowed for this role' },
    ]);
  });

  it('answers a mode it does not know with a 400 problem naming the field', async () => {
    for (const network of ['bridge', '', 7, null]) {
      const refused = await server.request('alice', 'POST', '/v1/jobs', {
        json: { command: 'true', network },
      });
      assert.equal(refused.status, 400, JSON.stringify(network));
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
      assert.equal(refused.json().code, 'INVALID_REQUEST');
      assert.match(String(refused.json().detail), /network:/);
    }
  });

  it("puts the mode in the job's start record and the policy on /healthz", async () => {
    const job = await server.startJob('alice', { command: 'true', network: 'none' });
    await server.waitForEnd('alice', job.id);
    const audit = await server.request('auditor', 'GET', `/v1/audit?job=${job.id}&limit=10`);
    const records = audit.json<{ records: { action: string; details: { network?: string } }[] }>();
    const start = records.records.find((record) => record.action === 'job.start');
    assert.equal(start?.details.network, 'none');
    const health = await server.request('alice', 'GET', '/healthz');
    const { protections } = health.json<{ protections: { network: unknown; egress: boolean } }>();
    assert.deepEqual(protections.network, {
      default: 'none',
      egressRoles: ['admin', 'user'],
      hostRoles: ['admin'],
    });
    // Whether this host gives egress at all, as the server said at start.
    const ready = server.logs.some((entry) => entry.msg === 'egress: jobs filtered by nftables');
    assert.equal(protections.egress, ready);
  });
});

describe("the server's default network", () => {
  let server: TestServer;

  before(async () => {
    // The host by default (said the deprecated way), egress for admins only: a user falls back
    // past both to none. No resolver either, as on a host whose resolvers are all on loopback.
    server = await startServer({
      env: { HOST_NETWORK: 'true', NETWORK_EGRESS_ROLES: 'admin', NETWORK_DNS: '' },
    });
  });
  after(async () => {
    await server.dispose();
  });

  it('says at start that --host-network is deprecated, and what to set instead', () => {
    const advice = server.logs.find((entry) => /is deprecated/.test(String(entry.msg)));
    assert.equal(advice?.level, 40, 'a warning');
    assert.match(
      String(advice?.msg),
      /set --network-default host \(NETWORK_DEFAULT=host\) instead/,
    );
  });

  it('says at start what to set when egress jobs would have no resolver', () => {
    const advice = server.logs.find((entry) =>
      /egress jobs get no DNS resolver/.test(String(entry.msg)),
    );
    assert.equal(advice?.level, 40, 'a warning');
    assert.match(
      String(advice?.msg),
      /set --network-dns \(NETWORK_DNS\) to resolvers on the network/,
    );
  });

  it('applies to a job that names none, narrowed to what its role may have', async () => {
    const admin = await server.startJob('admin', { command: 'true' });
    assert.equal(admin.network, 'host');
    const alice = await server.startJob('alice', { command: 'true' });
    assert.equal(alice.network, 'none');
    await server.waitForEnd('admin', admin.id);
    await server.waitForEnd('alice', alice.id);
  });

  it('refuses egress to a role NETWORK_EGRESS_ROLES leaves out with 403 NETWORK_EGRESS_FORBIDDEN', async () => {
    const refused = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', network: 'egress' },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.json().code, 'NETWORK_EGRESS_FORBIDDEN');
    const health = await server.request('alice', 'GET', '/healthz');
    assert.deepEqual(health.json<{ protections: { network: unknown } }>().protections.network, {
      default: 'host',
      egressRoles: ['admin'],
      hostRoles: ['admin'],
    });
  });
});
