// The systemd unit in the repository: `systemd-analyze verify` accepts it as written (only its
// install path, /opt/jobworker, is replaced by this checkout's, since verify checks that the
// programs it names exist), and its sandboxing is what docs/operations.md says: hardened
// (`systemd-analyze security` 7.7, where the unhardened unit was 9.6), with delegation and the
// process-only kill mode the server needs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/server.ts';

const run = promisify(execFile);

describe('the systemd unit', () => {
  let unit: string;
  let dir: string;
  before(async () => {
    const text = await readFile(join(ROOT, 'systemd', 'jobworker.service'), 'utf8');
    dir = await mkdtemp(join(tmpdir(), 'jobworker-unit-'));
    unit = join(dir, 'jobworker.service');
    await writeFile(unit, text.replaceAll('/opt/jobworker', ROOT));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes systemd-analyze verify', async () => {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', unit]);
    assert.equal(`${stdout}${stderr}`.trim(), '');
  });

  it('is hardened, delegates its cgroup and leaves jobs running when stopped', async () => {
    const { stdout } = await run('systemd-analyze', ['security', '--offline=true', unit]);
    const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(stdout)?.[1]);
    assert.ok(exposure <= 8, `exposure ${exposure}`);
    const text = await readFile(unit, 'utf8');
    for (const setting of [
      'Delegate=yes',
      'KillMode=process',
      'ProtectSystem=strict',
      'ProtectHome=read-only',
      'NoNewPrivileges=yes',
      'ExecReload=/bin/kill -HUP $MAINPID',
    ]) {
      assert.ok(text.split('\n').includes(setting), setting);
    }
  });
});
