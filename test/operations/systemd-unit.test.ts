// The systemd units in the repository: `systemd-analyze verify` accepts them as written (only
// their install path, /opt/jobworker, is replaced by this checkout's, since verify checks that
// the programs they name exist), and their settings are what docs/operations.md says. The
// server's unit is hardened (`systemd-analyze security` 7.7, where the unhardened unit was 9.6),
// is Type=notify, reads /etc/jobworker/config.yaml and keeps its state in its StateDirectory,
// stops only the server, and builds the jobs' tree in jobworker-jobs.service (the config file's
// cgroup-parent), the unit it is bound to; that one is delegated and stops every job when
// stopped, with no policy that would bind the jobs below it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseFlatYaml } from '../../src/util/flat-yaml.ts';
import { ROOT } from '../helpers/server.ts';

const run = promisify(execFile);
const SERVER = 'jobworker.service';
const JOBS = 'jobworker-jobs.service';

/** The unit's settings, one `Key=value` a line, comments left out. */
function settings(text: string): string[] {
  return text.split('\n').filter((line) => /^[A-Za-z]+=/.test(line));
}

describe('the systemd units', () => {
  let dir: string;
  const unit = (name: string): string => join(dir, name);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jobworker-unit-'));
    for (const name of [SERVER, JOBS]) {
      const text = await readFile(join(ROOT, 'systemd', name), 'utf8');
      await writeFile(unit(name), text.replaceAll('/opt/jobworker', ROOT));
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('pass systemd-analyze verify', async () => {
    // Both at once: verify then also checks that what the server's unit requires exists.
    const { stdout, stderr } = await run('systemd-analyze', ['verify', unit(SERVER), unit(JOBS)]);
    assert.equal(`${stdout}${stderr}`.trim(), '');
  });

  it('the server: hardened, leaves jobs running when stopped, builds their tree in the jobs unit', async () => {
    const { stdout } = await run('systemd-analyze', ['security', '--offline=true', unit(SERVER)]);
    const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(stdout)?.[1]);
    assert.ok(exposure <= 8, `exposure ${exposure}`);
    const lines = settings(await readFile(unit(SERVER), 'utf8'));
    for (const setting of [
      `BindsTo=${JOBS}`,
      `ExecStart=${ROOT}/node_modules/.bin/node bin/jobworker.js --config /etc/jobworker/config.yaml`,
      'Type=notify',
      'NotifyAccess=all',
      'StateDirectory=jobworker',
      'StateDirectoryMode=0700',
      'KillMode=process',
      'ProtectSystem=strict',
      'ProtectHome=read-only',
      'NoNewPrivileges=yes',
      'ExecReload=/bin/kill -HUP $MAINPID',
    ]) {
      assert.ok(lines.includes(setting), setting);
    }
    const after = lines.find((line) => line.startsWith('After='))?.split(/[=\s]/) ?? [];
    assert.ok(after.includes(JOBS), `starts after ${JOBS}: ${after.join(' ')}`);
    assert.ok(!lines.some((line) => line.startsWith('Environment=')), 'settings are in the file');
  });

  it('the config file it reads: state under its StateDirectory, the jobs in the jobs unit', async () => {
    const text = await readFile(join(ROOT, 'systemd', 'config.yaml'), 'utf8');
    const values = Object.fromEntries(
      parseFlatYaml(text).map(({ key, text: value }) => [key, value]),
    );
    assert.deepEqual(values, {
      'data-dir': '/var/lib/jobworker/data',
      'certs-dir': '/var/lib/jobworker/certs',
      'cgroup-parent': `/system.slice/${JOBS}`,
    });
    // The CRL's unit runs scripts/certs.ts, which reads CERTS_DIR rather than the file.
    const crl = settings(await readFile(join(ROOT, 'systemd', 'jobworker-crl.service'), 'utf8'));
    assert.ok(crl.includes(`Environment=CERTS_DIR=${values['certs-dir']}`), 'the CRL unit');
    assert.ok(crl.includes(`ReadWritePaths=${values['certs-dir']}`), 'the CRL unit may write');
  });

  it('the jobs unit: delegated, kills every job when stopped, binds no job by its cgroup', async () => {
    const lines = settings(await readFile(unit(JOBS), 'utf8'));
    assert.ok(lines.includes('Delegate=yes'));
    assert.ok(lines.includes('ExecStart=/bin/sleep infinity'));
    const keys = lines.map((line) => line.slice(0, line.indexOf('=')));
    // What would apply to the jobs below its cgroup, or keep them running when it stops.
    for (const key of [
      'KillMode',
      'DevicePolicy',
      'DeviceAllow',
      'PrivateDevices',
      'ProtectClock',
      'IPAddressDeny',
      'RestrictFileSystems',
      'SocketBindDeny',
      'MemoryMax',
      'TasksMax',
      'CPUQuota',
      'Slice',
    ]) {
      assert.ok(!keys.includes(key), `${key} is not set`);
    }
  });
});
