// Every jobctl command against a real server over mutual TLS: what it prints, piped and as JSON,
// and the exit status it ends with, including the job's own status passed through by `run`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runCerts } from '../helpers/certs-script.ts';
import { ROOT, startServer, type Job, type TestServer } from '../helpers/server.ts';
import { jobctlFor, oneLine, type Jobctl } from './jobctl-process.ts';

const run = promisify(execFile);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('jobctl commands', () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let dispose: () => Promise<void>;

  before(async () => {
    server = await startServer();
    ({ jobctl, dispose } = await jobctlFor(server));
  });
  after(async () => {
    await dispose();
    await server.dispose();
  });

  const job = async (id: string): Promise<Job> =>
    (await server.request('alice', 'GET', `/v1/jobs/${id}`)).json<Job>();

  describe('run', () => {
    it('prints the new job id and leaves the job running', async () => {
      const result = await jobctl.run('run', '--', 'sleep', '30');
      assert.equal(result.code, 0, result.stderr);
      const id = result.stdout.trim();
      assert.match(id, UUID);
      assert.equal((await job(id)).status, 'running');
      await server.request('alice', 'POST', `/v1/jobs/${id}/stop`);
    });

    it('--follow keeps stdout and stderr apart and exits with the job exit code', async () => {
      const result = await jobctl.run(
        'run',
        '-f',
        '--',
        'sh',
        '-c',
        'echo to-out; echo to-err >&2; exit 7',
      );
      assert.equal(result.code, 7);
      assert.equal(result.stdout, 'to-out\n');
      assert.equal(result.stderr, 'to-err\n');
    });

    it('--follow starts and follows the job in one request', async () => {
      const since = server.logs.length;
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const result = await jobctl
        .with({ TRACEPARENT: `00-${traceId}-00f067aa0ba902b7-01` })
        .run('run', '-f', '--', 'sh', '-c', 'echo out; echo err >&2; exit 4');
      assert.equal(result.code, 4);
      assert.equal(result.stdout, 'out\n');
      assert.equal(result.stderr, 'err\n');
      // This jobctl's requests all carry its trace id; the previous test's jobctl may be logged
      // in this window too, when the server sees its connection close only after it exited.
      const requests = (await server.logsSettled(since)).filter(
        (entry) => entry.msg === 'request' && entry.traceId === traceId,
      );
      assert.deepEqual(
        requests.map((entry) => [entry.method, entry.route, entry.traceId]),
        [['POST', '/v1/jobs', traceId]],
      );
    });

    it('--follow says when the job ran out of memory (exit 137)', async (t) => {
      const health = (await server.request('alice', 'GET', '/healthz')).json<{
        protections: { enforceableLimits: string[] };
      }>();
      if (!health.protections.enforceableLimits.includes('memory')) {
        return t.skip('the host cannot enforce memory limits');
      }
      const result = await jobctl.run(
        'run',
        '-f',
        '--memory',
        '64M',
        '--',
        'python3',
        '-c',
        'b = bytearray(256 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1',
      );
      assert.equal(result.code, 137, result.stderr);
      assert.match(result.stderr, /^jobworker: killed: out of memory \(its limit is 64 MiB\)\n$/);
    });

    it('--host-fs and --image choose the job filesystem within what the server allows', async () => {
      const health = await server.request('admin', 'GET', '/healthz');
      const sandboxed = health.json<{ protections: { sandbox: { privateRoot: boolean } } }>()
        .protections.sandbox.privateRoot;
      const work = await jobctl.run('run', '-f', '--', 'pwd');
      // A sandboxed job starts in its own /work; without a sandbox (not root), on the host's /.
      assert.equal(work.stdout, sandboxed ? '/work\n' : '/\n');
      const host = await jobctl.run('run', '-f', '--host-fs', '--', 'true');
      assert.equal(host.code, 125);
      assert.match(oneLine(host), /host's filesystem/);
      const image = await jobctl.run('run', '-f', '--image', 'no-such-image', '--', 'true');
      assert.equal(image.code, 125);
      assert.match(oneLine(image), /no image 'no-such-image'/);
    });

    it('--network asks for the mode, which the record keeps and the role must be allowed', async () => {
      const none = await jobctl.run('run', '--wait', '--network', 'none', '--', 'true');
      assert.equal(none.code, 0, none.stderr);
      assert.equal((await job(none.stdout.trim())).network, 'none');
      const host = await jobctl.run('run', '-f', '--network', 'host', '--', 'true');
      assert.equal(host.code, 125);
      assert.match(oneLine(host), /"network": "host".*\(NETWORK_HOST_FORBIDDEN\)$/);
      const typo = await jobctl.run('run', '--network', 'bridge', '--', 'true');
      // jobctl's own failures under `run` are 125, out of the way of the job's statuses.
      assert.equal(typo.code, 125);
      assert.match(typo.stderr, /invalid --network 'bridge': expected none, egress, host/);
    });

    it('--follow exits with 128+N when a signal kills the job, as a shell does', async () => {
      const result = await jobctl.run('run', '-f', '--', 'sh', '-c', 'kill -9 $$');
      assert.equal(result.code, 128 + 9);
    });

    it('--follow exits with 127 when the command does not exist, and says why', async () => {
      const result = await jobctl.run('run', '-f', '--', 'no-such-command-here');
      assert.equal(result.code, 127);
      assert.match(
        oneLine(result),
        /^jobctl: command not found: no-such-command-here \(PATH=.*\(COMMAND_NOT_FOUND\)$/,
      );
    });

    it('--follow exits with 124 when the job times out', async () => {
      const result = await jobctl.run('run', '-f', '--timeout', '1s', '--', 'sleep', '30');
      assert.equal(result.code, 124);
      assert.match(oneLine(result), /timed out after 1s/);
    });

    it('takes the job command from the first argument that is not an option, dashes and all', async () => {
      const result = await jobctl.run('run', '-f', 'echo', '-n', '--follow');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '--follow');
    });

    it('passes environment, working directory and limits', async () => {
      const result = await jobctl
        .with({ FROM_SHELL: 'shell-value' })
        .run(
          'run',
          '--wait',
          '--json',
          '-e',
          'GREETING=hi there',
          '--env',
          'FROM_SHELL',
          '--cwd',
          '/tmp',
          '--memory',
          '64M',
          '--cpu',
          '0.5',
          '--pids',
          '64',
          '--timeout',
          '30s',
          '--',
          'sh',
          '-c',
          'echo "$GREETING $FROM_SHELL"; pwd',
        );
      assert.equal(result.code, 0, result.stderr);
      const record = JSON.parse(result.stdout) as Job & { limits: Record<string, number> };
      assert.deepEqual(record.envNames, ['FROM_SHELL', 'GREETING']);
      assert.equal(record.cwd, '/tmp');
      assert.equal(record.limits.memoryBytes, 64 * 1024 * 1024);
      assert.equal(record.limits.cpus, 0.5);
      assert.equal(record.limits.pids, 64);
      assert.equal(record.timeoutMs, 30_000);
      const output = await server.request('alice', 'GET', `/v1/jobs/${record.id}/output`);
      assert.equal(output.text(), 'hi there shell-value\n/tmp\n');
    });

    it('--wait prints the id, shows no output and exits with the job status', async () => {
      const result = await jobctl.run('run', '--wait', '--', 'sh', '-c', 'echo hidden; exit 3');
      assert.equal(result.code, 3);
      assert.match(result.stdout.trim(), UUID);
      assert.equal((await job(result.stdout.trim())).status, 'exited');
    });

    it('--json prints the job record', async () => {
      const result = await jobctl.run('run', '--json', '--', 'true');
      assert.equal(result.code, 0, result.stderr);
      const record = JSON.parse(result.stdout) as Job;
      assert.match(record.id, UUID);
      assert.equal(record.command, 'true');
      assert.equal(record.owner, 'alice');
    });
  });

  describe('ps', () => {
    let running: string;
    let ended: string;
    before(async () => {
      running = (await server.startJob('alice', { command: 'sleep', args: ['30'] })).id;
      ended = (await server.startJob('alice', { command: 'sh', args: ['-c', 'exit 4'] })).id;
      await server.waitForEnd('alice', ended);
    });
    after(async () => {
      await server.request('alice', 'POST', `/v1/jobs/${running}/stop`);
    });

    it('lists jobs that have not ended as tab-separated lines when piped', async () => {
      const result = await jobctl.run('ps');
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trim().split('\n');
      const mine = lines.find((line) => line.startsWith(running));
      assert.deepEqual(mine?.split('\t').slice(0, 4), [running, 'alice', 'running', '-']);
      assert.equal(mine?.split('\t')[5], 'sleep 30');
      assert.ok(!result.stdout.includes(ended), 'ended jobs only with --all');
    });

    it('--all adds ended jobs, with how they ended', async () => {
      const result = await jobctl.run('ps', '--all');
      const line = result.stdout.split('\n').find((text) => text.startsWith(ended));
      assert.deepEqual(line?.split('\t').slice(0, 4), [ended, 'alice', 'exited', '4']);
      assert.equal(line?.split('\t')[5], "sh -c 'exit 4'");
    });

    it('--status filters, -q prints ids only', async () => {
      const result = await jobctl.run('ps', '-q', '--status', 'exited');
      const ids = result.stdout.trim().split('\n');
      assert.ok(ids.includes(ended));
      assert.ok(!ids.includes(running));
      assert.ok(ids.every((id) => UUID.test(id)));
    });

    it('--json prints an array of job records', async () => {
      const result = await jobctl.run('ps', '--all', '--json');
      const jobs = JSON.parse(result.stdout) as Job[];
      assert.ok(Array.isArray(jobs));
      assert.equal(jobs.find((entry) => entry.id === ended)?.exitCode, 4);
    });

    it('refuses an unknown status before asking the server', async () => {
      const result = await jobctl.run('ps', '--status', 'sleeping');
      assert.equal(result.code, 2);
      assert.match(oneLine(result), /unknown status 'sleeping'/);
    });
  });

  describe('labels, limits and bulk deletion', () => {
    // Carol's jobs only, so that counts are exact.
    let carol: Jobctl;
    before(async () => {
      const issued = await runCerts(server.certsDir, ['client', 'carol', '--role', 'user']);
      assert.equal(issued.code, 0, issued.stderr);
      carol = jobctl.with({ JOBCTL_CLIENT: 'carol' });
    });

    it('run --label labels the job; ps --label finds it among the others', async () => {
      const labelled = await carol.run(
        'run',
        '--wait',
        '-l',
        'pipeline=4711',
        '-l',
        'stage=test',
        '--',
        'true',
      );
      assert.equal(labelled.code, 0, labelled.stderr);
      const id = labelled.stdout.trim();
      assert.deepEqual((await server.request('carol', 'GET', `/v1/jobs/${id}`)).json().labels, {
        pipeline: '4711',
        stage: 'test',
      });
      await carol.run('run', '--wait', '-l', 'pipeline=4712', '--', 'true');
      const found = await carol.run('ps', '-aq', '--label', 'pipeline=4711');
      assert.equal(found.stdout, `${id}\n`);
      const both = await carol.run('ps', '-aq', '-l', 'pipeline=4711', '-l', 'stage=build');
      assert.equal(both.stdout, '');
      const bad = await carol.run('run', '--label', 'novalue', '--', 'true');
      assert.equal(bad.code, 125);
      assert.match(oneLine(bad), /invalid --label 'novalue'/);
      const refused = await carol.run('run', '--label', 'bad key=1', '--', 'true');
      assert.equal(refused.code, 125);
      assert.match(oneLine(refused), /labels/);
    });

    it('ps --limit and --since bound the listing', async () => {
      const ids: string[] = [];
      for (let index = 0; index < 5; index++) {
        ids.push((await server.startJob('carol', { command: 'true', labels: { batch: 'b' } })).id);
      }
      const limited = await carol.run('ps', '-aq', '-l', 'batch=b', '-n', '3');
      assert.deepEqual(limited.stdout.trim().split('\n'), ids.slice(2).reverse());
      const recent = await carol.run('ps', '-aq', '--since', '1h', '-l', 'batch=b');
      assert.equal(recent.stdout.trim().split('\n').length, 5);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      const none = await carol.run('ps', '-aq', '--since', future);
      assert.equal(none.stdout, '');
      for (const [option, value] of [
        ['--since', 'yesterday'],
        ['--limit', '0'],
      ] as const) {
        const result = await carol.run('ps', option, value);
        assert.equal(result.code, 2, `${option} ${value}`);
        assert.match(oneLine(result), new RegExp(option));
      }
    });

    it('rm --label deletes the ended jobs with the labels and leaves running ones alone', async () => {
      const ended = [];
      for (let index = 0; index < 3; index++) {
        ended.push(
          (await server.startJob('carol', { command: 'true', labels: { sweep: 'yes' } })).id,
        );
      }
      for (const id of ended) await server.waitForEnd('carol', id);
      const running = await server.startJob('carol', {
        command: 'sleep',
        args: ['30'],
        labels: { sweep: 'yes' },
      });
      const other = await server.startJob('carol', { command: 'true', labels: { sweep: 'no' } });
      await server.waitForEnd('carol', other.id);
      // Bob's job with the same label is not carol's to delete.
      const bobs = await server.startJob('bob', { command: 'true', labels: { sweep: 'yes' } });
      await server.waitForEnd('bob', bobs.id);
      try {
        const result = await carol.run('rm', '--label', 'sweep=yes');
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(result.stdout.trim().split('\n').sort(), [...ended].sort());
        for (const id of ended) {
          assert.equal((await server.request('carol', 'GET', `/v1/jobs/${id}`)).status, 404);
        }
        for (const [client, id] of [
          ['carol', running.id],
          ['carol', other.id],
          ['bob', bobs.id],
        ]) {
          assert.equal((await server.request(client ?? '', 'GET', `/v1/jobs/${id}`)).status, 200);
        }
        const both = await carol.run('rm', '--label', 'sweep=yes', running.id);
        assert.equal(both.code, 2);
      } finally {
        await server.request('carol', 'POST', `/v1/jobs/${running.id}/stop`);
      }
    });
  });

  describe('inspect and logs', () => {
    let id: string;
    before(async () => {
      id = (
        await server.startJob('alice', {
          command: 'sh',
          args: ['-c', 'echo one; echo two >&2; echo three'],
        })
      ).id;
      await server.waitForEnd('alice', id);
    });

    it('inspect prints the full record as JSON', async () => {
      const result = await jobctl.run('inspect', id);
      assert.equal(result.code, 0, result.stderr);
      const record = JSON.parse(result.stdout) as Job;
      assert.equal(record.id, id);
      assert.equal(record.status, 'exited');
      assert.equal(record.exitCode, 0);
    });

    it('logs sends the job stdout to stdout and its stderr to stderr', async () => {
      const result = await jobctl.run('logs', id);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, 'one\nthree\n');
      assert.equal(result.stderr, 'two\n');
    });

    it('logs --stream picks one stream, or all of them in order, onto stdout', async () => {
      const [stderr, all] = await Promise.all([
        jobctl.run('logs', '--stream', 'stderr', id),
        jobctl.run('logs', '--stream', 'all', id),
      ]);
      assert.equal(stderr.stdout, 'two\n');
      assert.equal(stderr.stderr, '');
      assert.equal(all.stdout.split('\n').sort().join(' '), ' one three two');
    });

    it('logs -f prints until the job ends, then exits 0', async () => {
      const slow = await server.startJob('alice', {
        command: 'sh',
        args: ['-c', 'echo first; sleep 0.5; echo last'],
      });
      const result = await jobctl.run('logs', '-f', slow.id);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'first\nlast\n');
    });
  });

  describe('stop and rm', () => {
    it('stop prints the id and the job ends as stopped; --wait --json gives the final record', async () => {
      const { id } = await server.startJob('alice', { command: 'sleep', args: ['30'] });
      const result = await jobctl.run('stop', '--wait', '--json', id);
      assert.equal(result.code, 0, result.stderr);
      const [record] = JSON.parse(result.stdout) as Job[];
      assert.equal(record?.status, 'stopped');
      const plain = await server.startJob('alice', { command: 'sleep', args: ['30'] });
      const stopped = await jobctl.run('stop', plain.id);
      assert.equal(stopped.stdout, `${plain.id}\n`);
      assert.equal((await server.waitForEnd('alice', plain.id)).status, 'stopped');
    });

    it('stop of an ended job succeeds and says it had already ended, as docker stop does', async () => {
      const { id } = await server.startJob('alice', { command: 'true' });
      await server.waitForEnd('alice', id);
      const result = await jobctl.run('stop', id);
      assert.equal(result.code, 0);
      assert.equal(oneLine(result), `jobctl: job ${id} had already ended (exited 0)`);
    });

    it('rm deletes an ended job, refuses a running one, and -f stops it first', async () => {
      const ended = await server.startJob('alice', { command: 'true' });
      await server.waitForEnd('alice', ended.id);
      const running = await server.startJob('alice', { command: 'sleep', args: ['30'] });

      const removed = await jobctl.run('rm', ended.id);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(removed.stdout, `${ended.id}\n`);
      assert.equal((await server.request('alice', 'GET', `/v1/jobs/${ended.id}`)).status, 404);

      const refused = await jobctl.run('rm', running.id);
      assert.equal(refused.code, 1);
      assert.match(oneLine(refused), /still running.*\(JOB_STILL_RUNNING\)$/);

      const forced = await jobctl.run('rm', '-f', running.id);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal((await server.request('alice', 'GET', `/v1/jobs/${running.id}`)).status, 404);
    });
  });

  describe('job id prefixes', () => {
    it('accepts a unique prefix wherever an id is expected', async () => {
      const { id } = await server.startJob('alice', { command: 'echo', args: ['by prefix'] });
      await server.waitForEnd('alice', id);
      const ids = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>().jobs;
      const prefix = shortestUniquePrefix(
        id,
        ids.map((entry) => entry.id),
      );
      const [inspect, logs] = await Promise.all([
        jobctl.run('inspect', prefix),
        jobctl.run('logs', prefix.toUpperCase()),
      ]);
      assert.equal((JSON.parse(inspect.stdout) as Job).id, id);
      assert.equal(logs.stdout, 'by prefix\n');
    });

    it('refuses an ambiguous prefix, naming the candidates', async () => {
      // Seventeen ids cannot all start with different hex digits: start jobs until two share one.
      // Bob's jobs of earlier tests count too, so that exactly those two match.
      const earlier = (await server.request('bob', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>();
      const byFirst = new Map(earlier.jobs.map((job) => [job.id.charAt(0), job.id]));
      let pair: [string, string] | undefined;
      while (pair === undefined) {
        const { id } = await server.startJob('bob', { command: 'true' });
        const other = byFirst.get(id.charAt(0));
        if (other !== undefined) pair = [other, id];
        byFirst.set(id.charAt(0), id);
      }
      const result = await jobctl.with({ JOBCTL_CLIENT: 'bob' }).run('inspect', pair[0].charAt(0));
      assert.equal(result.code, 1);
      const line = oneLine(result);
      assert.match(line, /^jobctl: job id prefix '.' is ambiguous: it matches 2 jobs/);
      assert.ok(line.includes(pair[0]) && line.includes(pair[1]), line);
    });

    it('answers a prefix that matches nothing as the API answers an unknown id', async () => {
      const result = await jobctl.run('logs', 'fffffffffff');
      assert.equal(result.code, 1);
      assert.equal(oneLine(result), "jobctl: no job with id 'fffffffffff' (JOB_NOT_FOUND)");
    });
  });

  describe('the jobctl command', () => {
    it("runs on the project's Node.js through a link, whatever node comes first on PATH", async () => {
      // As a user runs it: linked under another name into a directory on PATH (one with a space
      // in its name), where a `node` that is not the project's comes first.
      const dir = await mkdtemp(join(tmpdir(), 'jobctl link-'));
      try {
        await symlink(join(ROOT, 'bin', 'jobctl'), join(dir, 'jc'));
        await writeFile(join(dir, 'node'), '#!/bin/sh\nexit 99\n', { mode: 0o755 });
        const { stdout, stderr } = await run('jc', ['run', '-f', '--', 'echo', 'linked'], {
          env: { ...jobctl.env, PATH: `${dir}:/usr/bin:/bin` },
        });
        assert.equal(stdout, 'linked\n');
        assert.equal(stderr, '');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('help', () => {
    for (const command of ['run', 'ps', 'inspect', 'logs', 'stop', 'rm', 'context']) {
      it(`jobctl ${command} --help shows usage and examples`, async () => {
        const result = await jobctl.run(command, '--help');
        assert.equal(result.code, 0);
        assert.match(result.stdout, new RegExp(`^Usage: jobctl ${command} `));
        assert.match(result.stdout, /\nExamples:\n {2}jobctl /);
      });
    }

    it('jobctl --help lists every command; an unknown one is a usage error', async () => {
      const [help, unknown] = await Promise.all([jobctl.run('--help'), jobctl.run('frobnicate')]);
      assert.equal(help.code, 0);
      for (const command of ['run', 'ps', 'inspect', 'logs', 'stop', 'rm', 'context']) {
        assert.match(help.stdout, new RegExp(`\\n {2}${command} `));
      }
      assert.equal(unknown.code, 2);
      assert.equal(oneLine(unknown), "jobctl: unknown command 'frobnicate' (see 'jobctl --help')");
    });

    it('usage errors exit 2, and 125 in run so they cannot pass for the job status', async () => {
      const [ps, run] = await Promise.all([
        jobctl.run('ps', '--bogus'),
        jobctl.run('run', '--bogus', '--', 'true'),
      ]);
      assert.equal(ps.code, 2);
      assert.equal(oneLine(ps), "jobctl: unknown option '--bogus' (see 'jobctl ps --help')");
      assert.equal(run.code, 125);
    });
  });
});

function shortestUniquePrefix(id: string, ids: readonly string[]): string {
  for (let length = 1; length < id.length; length += 1) {
    const prefix = id.slice(0, length);
    if (ids.filter((other) => other.startsWith(prefix)).length === 1) return prefix;
  }
  return id;
}
