// A job's network, as the kernel enforces it (issue 33): egress jobs reach what the operator
// allows, through a veth pair and the server's nftables table, and nothing else; the host itself,
// the metadata address and other jobs are never reachable whatever the allow list says; a job
// with no network reaches nothing; nothing is left on the host after the jobs end, nor after the
// server is killed and started again. The far end is a test host in a network namespace of this
// test's own (test/helpers/test-host.ts): no address outside this machine is used.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FORWARDING_MARKER } from '../../src/launcher/network/egress-network.ts';
import { LINKS_DIRECTORY, serverNames } from '../../src/launcher/network/job-links.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';
import { METADATA_ADDRESS, startTestHost, type TestHost } from '../helpers/test-host.ts';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** This file's test host number: 10.250.1.0/24 and 198.51.100.1 are this file's alone. */
const HOST_NUMBER = 1;

/**
 * A job's shell script that tries each URL at once and prints `NAME CODE` for each, CODE being
 * the HTTP status or 000 when nothing answered within a second (a dropped packet, or a refusal).
 */
function probeScript(targets: Readonly<Record<string, string>>): string {
  const probes = Object.entries(targets).map(
    ([name, url]) =>
      `echo "${name} $(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time 3 ${url})" &`,
  );
  // The job's own gateway, the host's end of its pair, from its default route.
  const gateway = "gw=$(ip route show default | cut -d' ' -f3)";
  return [gateway, ...probes, 'wait'].join('\n');
}

/** What each probe got: name to HTTP status ('000' for nothing). */
function probed(output: string): Record<string, string> {
  return Object.fromEntries(
    output
      .trim()
      .split('\n')
      .map((line) => line.split(' ') as [string, string]),
  );
}

async function runJob(server: TestServer, spec: Record<string, unknown>): Promise<Job> {
  const job = await server.startJob('alice', spec);
  return server.waitForEnd('alice', job.id);
}

async function outputOf(server: TestServer, job: Job): Promise<string> {
  return (await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`)).text();
}

/** The host-side interfaces of a server's jobs, and the /31s they hold, on this host now. */
function leftovers(server: TestServer): { links: string[]; addresses: string[] } {
  const { interfacePrefix } = serverNames(server.dataDir);
  const links = readdirSync('/sys/class/net').filter((name) => name.startsWith(interfacePrefix));
  const addresses = existsSync(LINKS_DIRECTORY)
    ? readdirSync(LINKS_DIRECTORY).filter((file) =>
        readFileSync(`${LINKS_DIRECTORY}/${file}`, 'utf8').startsWith(interfacePrefix),
      )
    : [];
  return { links, addresses };
}

/**
 * Resolves once a job's interface has gone: the kernel removes a network namespace (and the pair
 * in it) in the background once its last user has left.
 */
async function interfacesGone(server: TestServer): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (leftovers(server).links.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function nftTables(): string {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
}

describe('egress jobs', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  let testHost: TestHost;
  /** A listener of the host's own, on every address: what a job must never reach. */
  let hostService: Server;
  let hostPort: number;

  /** The host's forwarding as the test found it: the server turns it on, and leaves it so. */
  const forwarding = readFileSync(IP_FORWARD, 'utf8');

  before(async () => {
    testHost = await startTestHost(HOST_NUMBER, { metadata: true });
    hostService = createServer((_request, response) => response.end('the host itself\n'));
    hostService.listen(0, '0.0.0.0');
    await once(hostService, 'listening');
    hostPort = (hostService.address() as AddressInfo).port;
  });
  after(async () => {
    hostService.closeAllConnections();
    hostService.close();
    await testHost.close();
    writeFileSync(IP_FORWARD, forwarding);
    // The server's record that it turned forwarding on goes with it.
    if (forwarding.trim() !== '1') rmSync(FORWARDING_MARKER, { force: true });
  });

  describe('with an allow list', () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({
        env: {
          // The host's own address and the jobs' range are listed, and stay unreachable.
          NETWORK_EGRESS_ALLOW: [
            `${testHost.address}:8080`,
            `${testHost.hostAddress}/32`,
            `${METADATA_ADDRESS}/32`,
            '10.200.0.0/16:8080',
          ].join(','),
          NETWORK_DNS: testHost.address,
        },
      });
    });
    after(async () => {
      const { table } = serverNames(server.dataDir);
      await server.dispose();
      assert.doesNotMatch(nftTables(), new RegExp(table), 'a stopped server leaves no table');
    });

    it("fetches from the allowed host and port, by a name the operator's resolver answers", async () => {
      const job = await runJob(server, {
        command: 'sh',
        args: ['-c', `cat /etc/resolv.conf; curl -s --max-time 5 http://${testHost.name}:8080/`],
        network: 'egress',
      });
      assert.equal(job.network, 'egress');
      assert.equal(job.exitCode, 0, await outputOf(server, job));
      assert.equal(
        await outputOf(server, job),
        `nameserver ${testHost.address}\nhello from the test host on port 8080\n`,
      );
      assert.ok((job.usage?.networkSentBytes ?? 0) > 0, JSON.stringify(job.usage));
      assert.ok((job.usage?.networkReceivedBytes ?? 0) > 40, JSON.stringify(job.usage));
      const metrics = (await server.request('admin', 'GET', '/metrics')).text();
      const sent = /jobworker_job_network_bytes_total\{direction="sent"\} (\d+)/.exec(metrics);
      assert.equal(Number(sent?.[1]), job.usage?.networkSentBytes);
    });

    it('reaches nothing else: another port or address, the host, the metadata address, other jobs', async () => {
      // It names its address once it has fetched from it itself: a 000 below is the filter's.
      const listener = await server.startJob('alice', {
        command: 'sh',
        args: [
          '-c',
          [
            'python3 -m http.server 8080 >/dev/null 2>&1 &',
            'address=$(hostname -I | tr -d " ")',
            'until curl -sf -o /dev/null --max-time 1 http://$address:8080/; do sleep 0.05; done',
            'echo $address; wait',
          ].join('\n'),
        ],
        network: 'egress',
      });
      await server.waitForOutput('alice', listener.id);
      const otherJob = (await outputOf(server, listener)).trim();
      const job = await runJob(server, {
        command: 'sh',
        args: [
          '-c',
          probeScript({
            allowed: `http://${testHost.address}:8080/`,
            otherPort: `http://${testHost.address}:9090/`,
            otherAddress: `http://${testHost.publicAddress}:8080/`,
            hostOnTestSubnet: `http://${testHost.hostAddress}:${hostPort}/`,
            serverPort: `https://${testHost.hostAddress}:${server.port}/`,
            gateway: `http://$gw:${hostPort}/`,
            metadata: `http://${METADATA_ADDRESS}:8080/`,
            otherJob: `http://${otherJob}:8080/`,
          }),
        ],
        network: 'egress',
      });
      await server.request('alice', 'POST', `/v1/jobs/${listener.id}/stop`);
      await server.waitForEnd('alice', listener.id);
      assert.deepEqual(probed(await outputOf(server, job)), {
        allowed: '200',
        otherPort: '000',
        otherAddress: '000',
        hostOnTestSubnet: '000',
        serverPort: '000',
        gateway: '000',
        metadata: '000',
        otherJob: '000',
      });
    });

    it("reaches nothing through the host's DNAT, even where the translated address is allowed", async () => {
      const { interfacePrefix } = serverNames(server.dataDir);
      // As Docker publishes a port: the host's own address and port, to an allowed one.
      const nat = `jwtest_dnat_${HOST_NUMBER}`;
      const published = `${testHost.hostAddress}:7070`;
      execFileSync('nft', ['-f', '-'], {
        input: [
          `table ip ${nat} {`,
          '  chain prerouting {',
          '    type nat hook prerouting priority dstnat; policy accept;',
          `    iifname "${interfacePrefix}*" ip daddr ${testHost.hostAddress} tcp dport 7070 dnat to ${testHost.address}:8080`,
          '  }',
          '}',
          '',
        ].join('\n'),
      });
      try {
        const job = await runJob(server, {
          command: 'sh',
          args: [
            '-c',
            probeScript({
              allowed: `http://${testHost.address}:8080/`,
              published: `http://${published}/`,
            }),
          ],
          network: 'egress',
        });
        assert.deepEqual(probed(await outputOf(server, job)), { allowed: '200', published: '000' });
      } finally {
        execFileSync('nft', ['delete', 'table', 'ip', nat]);
      }
    });

    it('fails closed when its table is removed under it, and installs it again for the next egress job', async () => {
      const { table } = serverNames(server.dataDir);
      // The job fetches until the fetch fails (the table gone), then probes; it says when it is up.
      const job = await server.startJob('alice', {
        command: 'sh',
        args: [
          '-c',
          [
            `allowed=http://${testHost.address}:8080/`,
            'curl -sf -o /dev/null --max-time 2 $allowed && echo up',
            'for try in $(seq 200); do',
            '  curl -sf -o /dev/null --connect-timeout 1 $allowed || break',
            '  sleep 0.05',
            'done',
            probeScript({
              allowed: `http://${testHost.address}:8080/`,
              hostOnTestSubnet: `http://${testHost.hostAddress}:${hostPort}/`,
              gateway: `http://$gw:${hostPort}/`,
            }),
          ].join('\n'),
        ],
        network: 'egress',
      });
      await server.waitForOutput('alice', job.id);
      // As `systemctl restart nftables` (Debian's file begins with `flush ruleset`) would.
      execFileSync('nft', ['delete', 'table', 'inet', table]);
      const ended = await server.waitForEnd('alice', job.id);
      const output = await outputOf(server, ended);
      assert.deepEqual(probed(output.replace(/^up\n/, '')), {
        allowed: '000',
        hostOnTestSubnet: '000',
        gateway: '000',
      });
      assert.doesNotMatch(nftTables(), new RegExp(table), 'nothing put it back meanwhile');
      const next = await runJob(server, {
        command: 'sh',
        args: ['-c', probeScript({ allowed: `http://${testHost.address}:8080/` })],
        network: 'egress',
      });
      assert.deepEqual(probed(await outputOf(server, next)), { allowed: '200' });
      assert.match(nftTables(), new RegExp(table));
    });

    it('forwards nothing between two other links of the host, now that a jobworker turned forwarding on', async (t) => {
      if (!existsSync(FORWARDING_MARKER)) {
        t.skip('the host forwarded before the server (not turned on by a jobworker)');
        return;
      }
      assert.equal(readFileSync(IP_FORWARD, 'utf8').trim(), '1');
      // Two namespaces on links not named jw*, each routed to the other through the host.
      const [a, b] = [`fwtest-${HOST_NUMBER}a`, `fwtest-${HOST_NUMBER}b`];
      const subnet = (side: number): string => `10.251.${HOST_NUMBER * 2 + side}`;
      const teardown = (): void => {
        for (const name of [a, b]) {
          execFileSync('sh', [
            '-c',
            `ip link del ${name} 2>/dev/null; ip netns del ${name} 2>/dev/null; true`,
          ]);
        }
      };
      teardown();
      let listener: ChildProcess | undefined;
      try {
        [a, b].forEach((name, side) => {
          const commands = [
            `ip netns add ${name}`,
            `ip link add ${name} type veth peer name eth0 netns ${name}`,
            `ip addr add ${subnet(side)}.1/24 dev ${name}`,
            `ip link set ${name} up`,
            `ip -n ${name} addr add ${subnet(side)}.2/24 dev eth0`,
            `ip -n ${name} link set eth0 up`,
            `ip -n ${name} link set lo up`,
            `ip -n ${name} route add default via ${subnet(side)}.1`,
          ];
          execFileSync('sh', ['-e', '-c', commands.join('\n')]);
        });
        listener = spawn('ip', ['netns', 'exec', b, 'python3', '-m', 'http.server', '8080'], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        const curl = (namespace: string[], url: string): string =>
          execFileSync(
            'sh',
            [
              '-c',
              `${namespace.join(' ')} curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time 3 ${url} || true`,
            ],
            { encoding: 'utf8' },
          );
        const url = `http://${subnet(1)}.2:8080/`;
        // The host itself reaches it (once it listens): a 000 from the other side is the filter's.
        const deadline = Date.now() + 10_000;
        while (curl([], url) !== '200') {
          if (Date.now() > deadline) throw new Error('the listener never answered the host');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(curl(['ip', 'netns', 'exec', a], url), '000');
      } finally {
        listener?.kill('SIGKILL');
        if (listener !== undefined && listener.exitCode === null && listener.signalCode === null)
          await once(listener, 'exit');
        teardown();
      }
    });

    it("gives an egress job no IPv6 at all, and a host job the host's own network", async () => {
      const job = await runJob(server, {
        command: 'sh',
        args: ['-c', 'ip -6 addr show; ip -6 route show; echo done'],
        network: 'egress',
      });
      assert.equal(await outputOf(server, job), 'done\n');
      const host = await server.startJob('admin', {
        command: 'sh',
        args: ['-c', probeScript({ testHost: `http://${testHost.address}:9090/` })],
        network: 'host',
      });
      await server.waitForEnd('admin', host.id);
      const output = await server.request('admin', 'GET', `/v1/jobs/${host.id}/output`);
      assert.deepEqual(probed(output.text()), { testHost: '200' });
    });

    it("binds the resolvers over a host-filesystem job's /etc/resolv.conf, and only in its view", async () => {
      const before = readFileSync('/etc/resolv.conf', 'utf8');
      const job = await server.startJob('admin', {
        command: 'sh',
        args: ['-c', `cat /etc/resolv.conf; curl -s --max-time 5 http://${testHost.name}:8080/`],
        network: 'egress',
        sandbox: 'host',
      });
      const ended = await server.waitForEnd('admin', job.id);
      const output = await server.request('admin', 'GET', `/v1/jobs/${job.id}/output`);
      assert.equal(ended.exitCode, 0, output.text());
      assert.equal(
        output.text(),
        `nameserver ${testHost.address}\nhello from the test host on port 8080\n`,
      );
      assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), before);
    });

    it('gives a job with no network nothing to reach', async () => {
      const job = await runJob(server, {
        command: 'sh',
        args: ['-c', probeScript({ allowed: `http://${testHost.address}:8080/` })],
        network: 'none',
      });
      assert.deepEqual(probed(await outputOf(server, job)), { allowed: '000' });
      assert.equal(job.usage?.networkSentBytes, undefined);
    });

    it('leaves nothing behind once the jobs have ended', async () => {
      await interfacesGone(server);
      assert.deepEqual(leftovers(server), { links: [], addresses: [] });
    });
  });

  describe('by default, public addresses only', () => {
    let server: TestServer;
    // The resolver is at the metadata address (as on GCP): reachable on port 53, and only there.
    const env = {
      NETWORK_TEST_PUBLIC: '198.51.100.0/24',
      NETWORK_DNS: METADATA_ADDRESS,
    };
    before(async () => {
      server = await startServer({ env });
    });
    after(async () => {
      await server.dispose();
    });

    it('reaches a public address (by name too, through a resolver at the metadata address) and not a private one, nor the metadata address but for DNS', async () => {
      const job = await runJob(server, {
        command: 'sh',
        args: [
          '-c',
          probeScript({
            public: `http://${testHost.publicAddress}:8080/`,
            publicByName: `http://public${HOST_NUMBER}.test:9090/`,
            private: `http://${testHost.address}:8080/`,
            metadata: `http://${METADATA_ADDRESS}:8080/`,
          }),
        ],
        network: 'egress',
      });
      assert.deepEqual(probed(await outputOf(server, job)), {
        public: '200',
        publicByName: '200',
        private: '000',
        metadata: '000',
      });
    });

    it('leaves nothing behind after a SIGKILL of the server and a restart, and keeps what a running job uses', async () => {
      const running = await server.startJob('alice', {
        command: 'sh',
        args: ['-c', 'echo up; exec sleep 600'],
        network: 'egress',
      });
      const ending = await server.startJob('alice', {
        command: 'sh',
        args: ['-c', 'echo up; read line'],
        network: 'egress',
        stdin: true,
      });
      await server.waitForOutput('alice', running.id);
      await server.waitForOutput('alice', ending.id);
      const { tag } = serverNames(server.dataDir);
      assert.equal(leftovers(server).links.length, 2);

      await server.stop('SIGKILL');
      // One job ends while no server watches it: its supervisor killed, the job goes with it.
      killJob(ending.id);
      await waitUntil(() => leftovers(server).links.length === 1);
      assert.equal(leftovers(server).addresses.length, 2, "the dead server's record of both");

      server = await startServer({ baseDir: server.baseDir, env });
      const ended = (await server.request('alice', 'GET', `/v1/jobs/${ending.id}`)).json<Job>();
      assert.equal(ended.status, 'lost', 'its supervisor was killed with it');
      assert.deepEqual(leftovers(server).addresses.length, 1, 'the running job keeps its /31');
      assert.equal(leftovers(server).links.length, 1, 'and its link');
      assert.match(nftTables(), new RegExp(`jobworker_${tag}`));

      await server.request('alice', 'POST', `/v1/jobs/${running.id}/stop`);
      await server.waitForEnd('alice', running.id);
      await interfacesGone(server);
      assert.deepEqual(leftovers(server), { links: [], addresses: [] });
      // Killed again with no egress job left, its table stays until it starts once more.
      await server.stop('SIGKILL');
      assert.match(nftTables(), new RegExp(`jobworker_${tag}`));
      server = await startServer({ baseDir: server.baseDir, env });
      assert.doesNotMatch(nftTables(), new RegExp(`jobworker_${tag}`), 'its table is gone');
    });
  });
});

/** SIGKILLs a job's supervisor, found by the job's directory in its arguments. */
function killJob(jobId: string): void {
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let commandLine: string;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (commandLine.includes('jobshim') && commandLine.includes(jobId))
      process.kill(Number(pid), 'SIGKILL');
  }
}

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
