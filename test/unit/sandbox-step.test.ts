// The sandbox step alone: the system-call filter for every job; the private sandbox's root, uid,
// hostname and tmpfs for a job that asks for it (from the operator's binds or an image); the job
// user for one on the host's filesystem; and a refusal where the host has no sandbox. Images are
// real directories, in a temporary data directory.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageNotFoundError, LimitNotEnforceableError } from '../../src/errors.ts';
import { SANDBOX_ACCOUNT } from '../../src/launcher/environment.ts';
import { ImageStore } from '../../src/launcher/images.ts';
import type { ClientUids, SandboxSettings } from '../../src/launcher/sandbox.ts';
import { SandboxStep } from '../../src/launcher/steps/sandbox-step.ts';
import { launchRequest } from '../helpers/launch-request.ts';

const NOBODY = { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' };

/** Each client's uid: alice's is the range's first. */
const ACCOUNTS: ClientUids = {
  range: { first: 200_000, count: 1000 },
  uidOf: (client) => (client === 'alice' ? 200_000 : 200_001),
};

describe('the sandbox step', () => {
  let dataDir: string;
  let settings: SandboxSettings;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sandbox-step-'));
    for (const entry of ['bin', 'etc', 'proc', '.hidden']) {
      await mkdir(join(dataDir, 'images', 'alpine', 'rootfs', entry), { recursive: true });
    }
    settings = {
      binds: [
        { path: '/usr', writable: false },
        { path: '/srv/data', writable: true },
      ],
      accounts: ACCOUNTS,
      images: new ImageStore(join(dataDir, 'images')),
    };
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("builds a private job's root from the operator's binds, as its client's own uid", async () => {
    const step = new SandboxStep({ user: NOBODY, sandbox: settings });
    const request = launchRequest({ sandbox: 'private', limits: { memoryBytes: 1024 ** 3 } });
    step.check(request);
    assert.deepEqual((await step.prepare(request)).args, [
      '--seccomp',
      '--sandbox',
      '--uid',
      '200000',
      '--gid',
      '200000',
      '--hostname',
      'job-0f8fad5b',
      '--tmpfs-size',
      String(1024 ** 3),
      '--ro-bind',
      '/usr',
      '/usr',
      '--rw-bind',
      '/srv/data',
      '/srv/data',
    ]);
    assert.equal(step.accountOf(request), SANDBOX_ACCOUNT);
  });

  it("builds it from an image's top-level entries instead, leaving out what the sandbox makes", async () => {
    const step = new SandboxStep({ user: undefined, sandbox: settings });
    const args = (await step.prepare(launchRequest({ sandbox: 'private', image: 'alpine' }))).args;
    const root = join(dataDir, 'images', 'alpine', 'rootfs');
    assert.deepEqual(args.slice(-6), [
      '--ro-bind',
      `${root}/bin`,
      '/bin',
      '--ro-bind',
      `${root}/etc`,
      '/etc',
    ]);
    assert.ok(args.includes(String(256 * 1024 ** 2)), 'the default tmpfs without a memory limit');
    await assert.rejects(
      step.prepare(launchRequest({ sandbox: 'private', image: 'missing' })),
      ImageNotFoundError,
    );
  });

  it('runs a job on the host filesystem as the job user, with the filter still', async () => {
    const step = new SandboxStep({ user: NOBODY, sandbox: settings });
    const request = launchRequest({ sandbox: 'host' });
    assert.deepEqual((await step.prepare(request)).args, [
      '--seccomp',
      '--uid',
      '65534',
      '--gid',
      '65534',
    ]);
    assert.equal(step.accountOf(request), NOBODY);
    const asServer = new SandboxStep({ user: undefined, sandbox: undefined });
    assert.deepEqual((await asServer.prepare(request)).args, ['--seccomp']);
    assert.equal(asServer.accountOf(request), undefined);
  });

  it('refuses a private job where the host has no sandbox, and reports what it has', () => {
    const step = new SandboxStep({ user: undefined, sandbox: undefined });
    assert.throws(
      () => step.check(launchRequest({ sandbox: 'private' })),
      (error) =>
        error instanceof LimitNotEnforceableError &&
        error.message ===
          'sandbox cannot be enforced on this host: this host gives no private sandbox (it needs root and namespaces)',
    );
    assert.deepEqual(step.protections.sandbox, {
      privateRoot: false,
      uidPerClient: false,
      uidRange: null,
      seccomp: true,
      binds: [],
    });
    assert.deepEqual(new SandboxStep({ user: NOBODY, sandbox: settings }).protections, {
      jobUser: 'nobody',
      sandbox: {
        privateRoot: true,
        uidPerClient: true,
        uidRange: { first: 200_000, last: 200_999 },
        seccomp: true,
        binds: ['/usr', '/srv/data:rw'],
      },
    });
  });
});
