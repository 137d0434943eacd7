// Resource limits (cgroups) and isolation (namespaces) as a job sees them. These need root and a
// writable cgroup hierarchy; where the host cannot, each test is skipped with the reason.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

/** Host pids whose command line satisfies `matches`. */
function processes(matches: (commandLine: string) => boolean): string[] {
  return readdirSync('/proc').filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      return matches(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim());
    } catch {
      return false; // it ended while we looked
    }
  });
}

/**
 * The processes of `pids` still alive after `ms`. A supervisor reports its job's end before it
 * syncs the job's status to disk, so it may outlive that report by the time of one fsync.
 */
async function survivors(pids: string[], ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  let alive = pids;
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    alive = alive.filter((pid) => existsSync(`/proc/${pid}`));
  }
  return alive;
}

interface Protections {
  cgroups: string;
  enforceableLimits: string[];
  pidNamespace: boolean;
  networkNamespace: boolean;
  jobUser: string;
  sandbox: { privateRoot: boolean };
}

describe('limits and isolation', () => {
  let server: TestServer;
  let protections: Protections;
  before(async () => {
    server = await startServer();
    protections = (await server.request('admin', 'GET', '/healthz')).json<{
      protections: Protections;
    }>().protections;
  });
  after(async () => {
    await server.dispose();
  });

  const needs = (kind: string): string | false => {
    if (protections.enforceableLimits.includes(kind)) return false;
    return `the host cannot enforce ${kind} limits (cgroups: ${protections.cgroups})`;
  };

  async function run(spec: Record<string, unknown>): Promise<{ job: Job; output: string }> {
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', { json: spec });
    assert.equal(response.status, 201, response.text());
    const job = (await server.request('alice', 'GET', response.headers.location!)).json<Job>();
    // The trailers say what the record says, so a client of ?follow=true needs no second request.
    assert.equal(response.trailers['job-oom-killed'], String(job.oomKilled));
    assert.equal(response.trailers['job-signal'], job.signal ?? '');
    return { job, output: response.text() };
  }

  it('kills a job that allocates 256 MiB under a 64 MiB cap and reports it as out of memory', async (t) => {
    const skip = needs('memory');
    if (skip) return t.skip(skip);
    const { job } = await run({
      command: 'python3',
      args: ['-c', 'b = bytearray(256 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1'],
      limits: { memory: '64M' },
    });
    assert.equal(job.status, 'exited');
    assert.equal(job.signal, 'SIGKILL');
    assert.equal(job.oomKilled, true);
    assert.ok(job.usage !== null && job.usage.peakMemoryBytes <= 64 * 1024 * 1024);
  });

  it('holds a fork bomb at the process cap while the server stays responsive', async (t) => {
    const skip = needs('pids');
    if (skip) return t.skip(skip);
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'bomb() { bomb | bomb & }; bomb; sleep 600'],
      limits: { pids: 32 },
    });
    const started = Date.now();
    const health = await server.request('bob', 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.ok(Date.now() - started < 2000, 'the API answered within 2 s during the bomb');
    // The shell may die of its own fork failure before the stop arrives: either way it must end.
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    const ended = await server.waitForEnd('alice', job.id);
    assert.ok(['stopped', 'exited'].includes(ended.status), ended.status);
  });

  it('keeps a CPU-bound job at 0.25 CPU to about a quarter of a core, and ends it timedout', async (t) => {
    const skip = needs('cpu');
    if (skip) return t.skip(skip);
    const { job } = await run({
      command: 'sh',
      args: ['-c', 'while :; do :; done'],
      limits: { cpus: 0.25 },
      timeout: '3s',
    });
    assert.equal(job.status, 'timedout');
    const wallMs = Date.parse(job.endedAt!) - Date.parse(job.startedAt!);
    const share = job.usage!.cpuMs / wallMs;
    assert.ok(share > 0.1 && share < 0.35, `used ${share.toFixed(2)} of a core`);
  });

  it('shows a job only its own processes', async (t) => {
    if (!protections.pidNamespace) return t.skip('no PID namespace on this host');
    const { output } = await run({ command: 'ps', args: ['-e', '-o', 'pid=,comm='] });
    const processes = output.trim().split('\n');
    assert.ok(processes.length <= 2, `ps saw: ${output}`);
    assert.match(output, /\bps\b/);
  });

  it('gives a job a network with only loopback, so it cannot reach the server', async (t) => {
    if (!protections.networkNamespace) return t.skip('no network namespace on this host');
    const { output: links } = await run({ command: 'cat', args: ['/proc/net/dev'] });
    const interfaces = links
      .split('\n')
      .slice(2)
      .filter((line) => line.includes(':'))
      .map((line) => line.split(':')[0]!.trim());
    assert.deepEqual(interfaces, ['lo']);
    const { job, output } = await run({
      command: 'python3',
      args: [
        '-c',
        `import socket\ntry:\n socket.create_connection(("127.0.0.1", ${server.port}), 2)\n print("connected")\nexcept OSError as e:\n print("refused", e.errno)`,
      ],
    });
    assert.equal(job.exitCode, 0);
    assert.match(output, /^refused/);
  });

  it('runs jobs on the host filesystem as the unprivileged job user', async (t) => {
    if (protections.jobUser === '' || protections.jobUser.startsWith('uid')) {
      return t.skip('the server is not root: jobs run as its own user');
    }
    const response = await server.request('admin', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'id', args: ['-un'], sandbox: 'host' },
    });
    assert.equal(response.status, 201, response.text());
    assert.equal(response.text().trim(), protections.jobUser);
  });

  it('stops a daemonised grandchild (setsid and double fork)', async () => {
    const marker = String(Math.floor(200000 + Math.random() * 700000));
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', `(setsid sh -c "sleep ${marker} &" &); echo forked; sleep ${marker}`],
    });
    await server.waitForOutput('alice', job.id);
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    await server.waitForEnd('alice', job.id);
    assert.deepEqual(
      processes((line) => line === `sleep ${marker}`),
      [],
    );
  });

  it('leaves no cgroups or supervisors behind after 1,000 short jobs', async (t) => {
    if (protections.cgroups === 'none') return t.skip('no cgroups on this host');
    const ids: string[] = [];
    const total = 1000;
    const concurrency = 16;
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next += 1;
          const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
            json: { command: 'true' },
          });
          assert.equal(response.status, 201);
          assert.equal(response.trailers['job-status'], 'exited');
          ids.push(response.headers.location!.split('/').pop()!);
        }
      }),
    );
    assert.equal(ids.length, total);
    const leftovers = ['cpu', 'memory', 'pids', 'blkio', 'cpuacct', '']
      .map((hierarchy) => `/sys/fs/cgroup/${hierarchy}/jobworker`)
      .filter((dir) => existsSync(dir))
      .flatMap((dir) => readdirSync(dir).filter((name) => ids.includes(name)));
    assert.deepEqual(leftovers, []);
    const supervisors = processes((line) => ids.some((id) => line.includes(id)));
    assert.deepEqual(await survivors(supervisors, 5000), []);
  });

  it('turns on favordynmods on a cgroup v1 host, so a job’s cgroup move does not wait', (t) => {
    if (protections.cgroups !== 'v1') return t.skip(`cgroups: ${protections.cgroups}, not v1`);
    const cgroup2 = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((line) => / - cgroup2 /.test(line));
    if (cgroup2 === undefined) return t.skip('no cgroup2 hierarchy is mounted');
    assert.match(cgroup2, / - cgroup2 \S+ \S*favordynmods/);
  });
});
