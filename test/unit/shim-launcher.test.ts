// The launcher as a list of steps, with the real supervisor and no privilege asked of the host:
// the steps' checks refuse a job before anything is set up, a step that fails undoes what was
// set up, and a job launched through them runs as its spec says. The steps each have their own
// tests (test/unit/*-step.test.ts); test/isolation/ runs them with cgroups and namespaces.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageNotFoundError, LimitNotEnforceableError } from '../../src/errors.ts';
import { JOB_FILE_NAMES, jobFile } from '../../src/jobs/job-directory.ts';
import { ImageStore } from '../../src/launcher/images.ts';
import { ShimLauncher, type HostSteps } from '../../src/launcher/shim-launcher.ts';
import { CgroupStep } from '../../src/launcher/steps/cgroup-step.ts';
import { NamespacesStep } from '../../src/launcher/steps/namespaces-step.ts';
import { NetworkStep } from '../../src/launcher/steps/network-step.ts';
import { SandboxStep } from '../../src/launcher/steps/sandbox-step.ts';
import { launchRequest } from '../helpers/launch-request.ts';

/** The steps of a host without cgroups, namespaces or a sandbox: jobs run as the server. */
function unprotected(sandbox?: SandboxStep): HostSteps {
  return {
    cgroup: new CgroupStep(undefined),
    namespaces: new NamespacesStep({ pid: false }),
    network: new NetworkStep({ namespaces: false, egress: undefined }),
    sandbox: sandbox ?? new SandboxStep({ user: undefined, sandbox: undefined }),
  };
}

describe('the launcher and its steps', () => {
  let base: string;
  let count = 0;
  const launchers: ShimLauncher[] = [];

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'shim-launcher-'));
  });
  after(async () => {
    await Promise.all(launchers.map((launcher) => launcher.close()));
    await rm(base, { recursive: true, force: true });
  });

  function launcherOf(steps: HostSteps, required = false): ShimLauncher {
    const launcher = new ShimLauncher(steps, { required });
    launchers.push(launcher);
    return launcher;
  }

  async function jobDir(): Promise<string> {
    const dir = join(base, `job-${++count}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  it("runs a job as its spec says, in the steps' order", async () => {
    const launcher = launcherOf(unprotected());
    assert.deepEqual(launcher.protections, {
      cgroups: 'none',
      enforceableLimits: [],
      pidNamespace: false,
      mountNamespace: false,
      networkNamespace: false,
      egress: false,
      jobUser: `uid ${process.getuid?.() ?? 'unknown'}`,
      sandbox: {
        privateRoot: false,
        uidPerClient: false,
        uidRange: null,
        seccomp: true,
        binds: [],
      },
    });
    const dir = await jobDir();
    const request = launchRequest(
      {
        command: '/bin/sh',
        args: ['-c', 'pwd; echo "$GREETING" >&2'],
        cwd: '/tmp',
        env: { GREETING: 'hello' },
        stderr: 'merged',
      },
      { dir },
    );
    const result = await launcher.launch(request);
    assert.equal(result.kind, 'started');
    const outcome = await result.handle.ended;
    assert.equal(outcome.exitCode, 0);
    assert.equal(readFileSync(jobFile(dir, 'outputLog'), 'utf8'), '/tmp\nhello\n');
    // The environment file is read and removed by the supervisor before it reports a start.
    assert.equal(readdirSync(dir).includes(JOB_FILE_NAMES.environment), false);
  });

  it('refuses every job when isolation is required and a step cannot give it', async () => {
    const launcher = launcherOf(unprotected(), true);
    const dir = await jobDir();
    await assert.rejects(
      launcher.launch(launchRequest({}, { dir })),
      (error) =>
        error instanceof LimitNotEnforceableError &&
        error.message ===
          'isolation cannot be enforced on this host: isolation is required but no writable cgroup hierarchy was found',
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  it("refuses a job a step's check fails before any step sets anything up", async () => {
    const launcher = launcherOf(unprotected());
    const dir = await jobDir();
    await assert.rejects(
      launcher.launch(launchRequest({ sandbox: 'private' }, { dir })),
      LimitNotEnforceableError,
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  it('undoes what was set up, the environment file included, when a step fails', async () => {
    const sandbox = new SandboxStep({
      user: undefined,
      sandbox: {
        binds: [],
        accounts: { range: { first: 200_000, count: 10 }, uidOf: () => 200_000 },
        images: new ImageStore(join(base, 'images')),
      },
    });
    const launcher = launcherOf(unprotected(sandbox));
    const dir = await jobDir();
    await assert.rejects(
      launcher.launch(
        launchRequest({ sandbox: 'private', image: 'missing', env: { SECRET: 'x' } }, { dir }),
      ),
      ImageNotFoundError,
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});
