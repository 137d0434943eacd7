// --cgroup-parent (CGROUP_PARENT): the jobs' cgroup tree is built in a cgroup the operator names
// (under systemd, jobworker-jobs.service's), whose processes move into a leaf beside the tree,
// while the server's own cgroup is left as it was; a parent that is no cgroup stops the server.
// Tried on this host's cgroup2 mount (on the v1 hosts' hybrid layout, the one without
// controllers), in a cgroup made below the test's own.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CgroupParentError } from '../../src/launcher/cgroups/cgroup-parent.ts';
import { removeCgroupDir } from '../../src/launcher/cgroups/cgroup-files.ts';
import { findCgroup2Mount } from '../../src/launcher/cgroups/fast-moves.ts';
import { CgroupV2Driver } from '../../src/launcher/cgroups/v2.ts';
import { startServer } from '../helpers/server.ts';

/** A process's cgroup in the v2 hierarchy, as /proc/PID/cgroup names it. */
function cgroupOf(pid: number | 'self'): string {
  const own = /^0::(\/.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
  if (own === undefined) throw new Error(`process ${pid} is in no v2 cgroup`);
  return own;
}

function isCgroupParentError(error: unknown, why: RegExp): boolean {
  assert.ok(error instanceof CgroupParentError, String(error));
  assert.equal(error.code, 'CGROUP_PARENT_INVALID');
  assert.match(error.message, why);
  return true;
}

const mount = findCgroup2Mount(readFileSync('/proc/self/mountinfo', 'utf8'))?.target;
const skip =
  process.getuid?.() !== 0 ? 'needs root to make cgroups' : mount === undefined && 'no cgroup2';

describe('the cgroup parent', { skip }, () => {
  const root = mount ?? '';
  // Below the test's own cgroup: inside its delegated service when it runs under systemd.
  const own = cgroupOf('self');
  const parent = join(own, `jobworker-test-parent-${process.pid}`);
  let holder: ChildProcess;
  before(async () => {
    await mkdir(join(root, parent));
    holder = spawn('sleep', ['600'], { stdio: 'ignore' });
    await once(holder, 'spawn');
    await writeFile(join(root, parent, 'cgroup.procs'), String(holder.pid));
  });
  after(async () => {
    if (holder.exitCode === null) {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
    for (const dir of ['jobworker/client-test', 'jobworker', 'jobworker-holder', '']) {
      if (existsSync(join(root, parent, dir))) await removeCgroupDir(join(root, parent, dir));
    }
  });

  it('builds the tree in it, moves its processes beside the tree, leaves the caller', async () => {
    const ownSubtree = readFileSync(join(root, own, 'cgroup.subtree_control'), 'utf8');
    const driver = await CgroupV2Driver.detect(root, {}, parent);
    assert.ok(driver !== undefined, 'a v2 driver');
    assert.equal(cgroupOf(holder.pid ?? 0), join(parent, 'jobworker-holder'));
    assert.equal(cgroupOf('self'), own);
    assert.equal(readFileSync(join(root, own, 'cgroup.subtree_control'), 'utf8'), ownSubtree);
    const job = await driver.create('job-1', {}, [], { name: 'client-test', totals: {} });
    assert.equal(job.directory, join(root, parent, 'jobworker', 'client-test', 'job-1'));
    assert.equal(driver.open('job-1')?.directory, job.directory);
    await job.remove();
  });

  it('stops the server when it does not exist', async () => {
    await assert.rejects(CgroupV2Driver.detect(root, {}, `${parent}-missing`), (error) =>
      isCgroupParentError(error, /does not exist/),
    );
  });

  it('stops the server when it is a cgroup file rather than a cgroup', async () => {
    await assert.rejects(CgroupV2Driver.detect(root, {}, join(parent, 'cgroup.procs')), (error) =>
      isCgroupParentError(error, /is not a cgroup/),
    );
  });

  it('is refused by a v2 server at start, and not used by a v1 one', async () => {
    const isV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const starting = startServer({ env: { CGROUP_PARENT: `${parent}-missing` } });
    if (isV2) {
      await assert.rejects(starting, /server failed to start: the cgroup parent .* does not exist/);
      return;
    }
    const server = await starting;
    try {
      assert.ok(server.logs.some((entry) => entry.cgroupParent === `${parent}-missing`));
    } finally {
      await server.dispose();
    }
  });
});

describe('a cgroup parent outside any cgroup2 hierarchy', () => {
  let fake: string;
  before(async () => {
    // Looks like a v2 hierarchy's root to the driver, but is a plain directory.
    fake = await mkdtemp(join(tmpdir(), 'jobworker-not-cgroup-'));
    await writeFile(join(fake, 'cgroup.controllers'), 'cpu memory pids\n');
    await mkdir(join(fake, 'jobs'));
    await writeFile(join(fake, 'jobs', 'cgroup.procs'), '');
  });
  after(async () => {
    await rm(fake, { recursive: true, force: true });
  });

  it('stops the server rather than building the tree in a plain directory', async () => {
    await assert.rejects(CgroupV2Driver.detect(fake, {}, '/jobs'), (error) =>
      isCgroupParentError(error, /is not a cgroup/),
    );
    assert.ok(!existsSync(join(fake, 'jobs', 'jobworker')));
  });
});
