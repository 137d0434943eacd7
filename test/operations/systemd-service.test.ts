// docs/operations.md's systemd commands, as written, under systemd as PID 1: install and start
// the unit, reload it (SIGHUP), restart it with a job running (the job survives and is
// re-attached), stop it (the job still survives). These machines do not boot systemd, so this
// runs in the cgroup v2 guest (`npm run test:cgroup2`) and is skipped elsewhere.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/server.ts';

const run = promisify(execFile);
const INSTALL_DIR = '/opt/jobworker';
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

/** GET or POST as admin; resolves with the status and body, or undefined if nobody answers. */
function api(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string } | undefined> {
  const certs = join(INSTALL_DIR, 'certs');
  let credentials: { ca: Buffer; cert: Buffer; key: Buffer };
  try {
    credentials = {
      ca: readFileSync(join(certs, 'ca.pem')),
      cert: readFileSync(join(certs, 'clients', 'admin', 'cert.pem')),
      key: readFileSync(join(certs, 'clients', 'admin', 'key.pem')),
    };
  } catch {
    // The first start is still writing its development PKI.
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const req = request(
      {
        // The address it listens on (localhost may be ::1 first), and the name it has.
        host: '127.0.0.1',
        servername: 'localhost',
        port: 8443,
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

/** Waits for the service to answer (it starts in a few seconds, slower under emulation). */
async function serving(): Promise<void> {
  for (let tries = 0; tries < 240; tries += 1) {
    const answer = await api('GET', '/healthz');
    if (answer?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the service never answered: ${await sh('systemctl status jobworker || true')}`);
}

describe('the service under systemd', { skip: !underSystemd && 'needs systemd as PID 1' }, () => {
  after(async () => {
    await sh(
      'systemctl disable --now jobworker || true; rm -f /etc/systemd/system/jobworker.service',
    );
  });

  it(
    'installs, reloads, and keeps jobs across a restart and a stop',
    { timeout: 600_000 },
    async () => {
      // The project is where the unit expects it.
      if (!existsSync(INSTALL_DIR)) {
        await run('mkdir', ['-p', INSTALL_DIR]);
        await run('mount', ['--bind', ROOT, INSTALL_DIR]);
      }
      const install = section('Install').replace(/^cd \/opt\/jobworker && npm ci$/m, '');
      await sh(install).catch(async (error: unknown) => {
        const journal = await sh('journalctl -u jobworker --no-pager -n 40 || true');
        throw new Error(`${(error as Error).message}\n${journal}`);
      });
      await serving();
      const started = await api('POST', '/v1/jobs', { command: 'sleep', args: ['120'] });
      assert.equal(started?.status, 201, started?.body);
      const id = (JSON.parse(started?.body ?? '{}') as { id: string }).id;
      await sh('systemctl reload jobworker');
      await serving();
      await sh('systemctl restart jobworker');
      await serving();
      const after = await api('GET', `/v1/jobs/${id}`);
      assert.match(after?.body ?? '', /"status":"running"/);
      await sh('systemctl stop jobworker');
      assert.ok(
        (await sh('ps -eo args')).includes(`jobs/${id}`),
        "the job's supervisor outlives the stopped service",
      );
      await sh('systemctl start jobworker');
      await serving();
      assert.equal((await api('POST', `/v1/jobs/${id}/stop`))?.status, 202);
    },
  );
});
