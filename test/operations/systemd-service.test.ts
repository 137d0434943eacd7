// docs/operations.md's systemd commands, as written, under systemd as PID 1: install the config
// file and check it, install and start the units (Type=notify: `systemctl start` and `restart`
// return once the server answers; the config file is read: state in /var/lib/jobworker, the
// jobs' cgroups where its cgroup-parent says), reload the server (SIGHUP), restart it with a
// job running (the job survives, is re-attached and its output goes on: systemd 252 starts the
// new server in the unit's own cgroup, which the jobs' cgroups are not in), stop it (the job
// still survives), then stop the jobs' unit (every job ends, and the server with it). These
// machines do not boot systemd, so this runs in the cgroup v2 guest (`npm run test:cgroup2`) and
// is skipped elsewhere.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { hasEnded, type JobStatus } from '../../src/jobs/job-status.ts';
import { ROOT } from '../helpers/server.ts';

const run = promisify(execFile);
const INSTALL_DIR = '/opt/jobworker';
/** The unit's StateDirectory, where systemd/config.yaml's data-dir and certs-dir point. */
const STATE_DIR = '/var/lib/jobworker';
const underSystemd = existsSync('/run/systemd/system');

/** The `sh` lines of a docs/operations.md section, as an operator would paste them. */
function section(title: string): string {
  const text = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
  const start = text.indexOf(`## ${title}`);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(start))?.[1] ?? '';
  return block
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('git ') && !line.startsWith('journalctl'))
    .map((line) => line.replace(/\s+#.*$/, ''))
    .join('\n');
}

async function sh(script: string): Promise<string> {
  const { stdout } = await run('sh', ['-ec', script], { cwd: INSTALL_DIR, timeout: 300_000 });
  return stdout;
}

/** The admin's TLS files, once the first start has written its development PKI. */
function adminCredentials(): { ca: Buffer; cert: Buffer; key: Buffer } | undefined {
  const certs = join(STATE_DIR, 'certs');
  try {
    return {
      ca: readFileSync(join(certs, 'ca.pem')),
      cert: readFileSync(join(certs, 'clients', 'admin', 'cert.pem')),
      key: readFileSync(join(certs, 'clients', 'admin', 'key.pem')),
    };
  } catch {
    return undefined;
  }
}

/** Where the service listens (localhost may be ::1 first), and the name its certificate has. */
const ADDRESS = { host: '127.0.0.1', servername: 'localhost', port: 8443 };

/** GET or POST as admin; resolves with the status and body, or undefined if nobody answers. */
function api(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string } | undefined> {
  const credentials = adminCredentials();
  if (credentials === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const req = request(
      {
        ...ADDRESS,
        method,
        path,
        ...credentials,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    req.once('error', () => resolve(undefined));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The first bytes a job writes after `offset`, as a follower gets them. */
function nextOutput(id: string, offset: number): Promise<string> {
  const credentials = adminCredentials();
  assert.ok(credentials !== undefined, 'the PKI exists');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...ADDRESS,
        path: `/v1/jobs/${id}/output?follow=true&offset=${offset}`,
        ...credentials,
        // A bound, not a wait: the job writes a line every 0.2 s.
        signal: AbortSignal.timeout(60_000),
      },
      (response) => {
        response.once('data', (chunk: Buffer) => {
          resolve(chunk.toString());
          req.destroy();
        });
        response.once('end', () => reject(new Error('the output ended without more')));
      },
    );
    req.once('error', reject);
    req.end();
  });
}

/** A job's record, as the API answers it. */
async function job(id: string): Promise<{ status: JobStatus; signal?: string | null }> {
  const answer = await api('GET', `/v1/jobs/${id}`);
  assert.equal(answer?.status, 200, answer?.body);
  return JSON.parse(answer?.body ?? '{}') as { status: JobStatus; signal?: string | null };
}

/** Waits for the service to answer (it starts in a few seconds, slower under emulation). */
async function serving(): Promise<void> {
  for (let tries = 0; tries < 240; tries += 1) {
    const answer = await api('GET', '/healthz');
    if (answer?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the service never answered: ${await sh('systemctl status jobworker || true')}`);
}

/** A systemctl command; if it fails, the error carries the units' status and journal. */
async function systemctl(command: string): Promise<void> {
  await sh(`systemctl ${command}`).catch(async (error: unknown) => {
    const status = await sh(
      'systemctl status jobworker jobworker-jobs --no-pager || true; ' +
        'journalctl -u jobworker -u jobworker-jobs --no-pager -n 80 || true',
    );
    throw new Error(`${(error as Error).message}\n${status}`);
  });
}

/**
 * The service answers at once: with Type=notify, `systemctl start` and `restart` return only
 * once the server has said it listens (under Type=simple they returned as soon as it was forked).
 */
async function answersAtOnce(command: string): Promise<void> {
  const answer = await api('GET', '/healthz');
  assert.equal(answer?.status, 200, `nothing answered right after \`${command}\` returned`);
}

describe('the service under systemd', { skip: !underSystemd && 'needs systemd as PID 1' }, () => {
  after(async () => {
    await sh(
      'systemctl disable --now jobworker || true; systemctl stop jobworker-jobs || true; ' +
        'rm -f /etc/systemd/system/jobworker.service /etc/systemd/system/jobworker-jobs.service; ' +
        `rm -rf /etc/jobworker ${STATE_DIR}; systemctl daemon-reload`,
    );
  });

  it(
    'installs, reloads, keeps jobs across a restart and a stop, and stops them with their unit',
    { timeout: 600_000 },
    async () => {
      // The project is where the unit expects it.
      if (!existsSync(INSTALL_DIR)) {
        await run('mkdir', ['-p', INSTALL_DIR]);
        await run('mount', ['--bind', ROOT, INSTALL_DIR]);
      }
      const install = section('Install').replace(/^cd \/opt\/jobworker && npm ci.*$/m, '');
      assert.match(install, /--check --config \/etc\/jobworker\/config\.yaml/);
      await sh(install).catch(async (error: unknown) => {
        const journal = await sh('journalctl -u jobworker --no-pager -n 40 || true');
        throw new Error(`${(error as Error).message}\n${journal}`);
      });
      assert.equal(await sh('systemctl show -p Type --value jobworker'), 'notify\n');
      await answersAtOnce('systemctl enable --now jobworker');
      // The config file was read: the state is in the StateDirectory it names.
      assert.ok(
        existsSync(join(STATE_DIR, 'data', 'jobworker.db')),
        'data-dir from the config file',
      );
      const started = await api('POST', '/v1/jobs', {
        command: 'sh',
        args: ['-c', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'],
      });
      assert.equal(started?.status, 201, started?.body);
      const id = (JSON.parse(started?.body ?? '{}') as { id: string }).id;
      assert.match(await nextOutput(id, 0), /^tick 1\n/);
      // The job's cgroup is in the jobs' unit; the server's unit's cgroup hands nothing down.
      const cgroups = '/sys/fs/cgroup/system.slice';
      assert.ok(existsSync(join(cgroups, 'jobworker-jobs.service', 'jobworker')));
      assert.equal(
        readFileSync(join(cgroups, 'jobworker.service', 'cgroup.subtree_control'), 'utf8').trim(),
        '',
      );
      await sh('systemctl reload jobworker');
      await serving();

      await systemctl('restart jobworker');
      await answersAtOnce('systemctl restart jobworker');
      assert.equal((await job(id)).status, 'running', 're-attached after the restart');
      const sofar = (await api('GET', `/v1/jobs/${id}/output`))?.body ?? '';
      assert.match(await nextOutput(id, Buffer.byteLength(sofar)), /^tick \d+\n/);

      await systemctl('stop jobworker');
      assert.ok(
        (await sh('ps -eo args')).includes(`jobs/${id}`),
        "the job's supervisor outlives the stopped service",
      );
      await systemctl('start jobworker');
      await answersAtOnce('systemctl start jobworker');
      assert.equal((await job(id)).status, 'running');

      // The jobs' unit: its stop ends every job, and the server, which is bound to it.
      await systemctl('stop jobworker-jobs');
      assert.equal(
        await sh('systemctl is-active jobworker jobworker-jobs || true'),
        'inactive\ninactive\n',
      );
      assert.ok(
        !existsSync('/sys/fs/cgroup/system.slice/jobworker-jobs.service'),
        "systemd removed the jobs' unit's cgroup, the server's tree with it",
      );
      // Starting the server starts the jobs' unit again, in a new cgroup.
      await systemctl('start jobworker');
      await serving();
      await api('GET', `/v1/jobs/${id}/output?follow=true`);
      const ended = await job(id);
      assert.ok(hasEnded(ended.status), JSON.stringify(ended));

      // Its process killed, the unit stops as it would be stopped, the server included.
      const second = await api('POST', '/v1/jobs', { command: 'sleep', args: ['600'] });
      assert.equal(second?.status, 201, second?.body);
      const secondId = (JSON.parse(second?.body ?? '{}') as { id: string }).id;
      await sh('systemctl kill --kill-who=main --signal=SIGKILL jobworker-jobs');
      // Until it has stopped: is-active is false already while it is still deactivating.
      await sh(
        'until systemctl is-active jobworker | grep -qx -e inactive -e failed; do sleep 0.2; done',
      );
      await systemctl('start jobworker');
      await serving();
      await api('GET', `/v1/jobs/${secondId}/output?follow=true`);
      const killed = await job(secondId);
      assert.ok(hasEnded(killed.status), JSON.stringify(killed));
    },
  );
});
