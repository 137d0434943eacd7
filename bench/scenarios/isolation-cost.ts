// The cost of isolation, measured on the supervisor alone: build/jobshim spawned directly from
// this process, with the arguments the server gives it, from spawn to its `started` report (sent
// once the job's command has been exec'd), with each protection added on its own. The cgroups are
// made and removed by the server's own cgroup driver, timed apart. Baseline: a bare spawn of the
// same command, to its 'spawn' event. Then the cgroup move itself, after idle and right after
// another move, which is where cgroup v1's cost lies. The private sandbox (own root of read-only
// binds, /proc, /dev, /sys, tmpfs, uid) and the seccomp filter are timed on their own and with
// everything else; bubblewrap building the same view is timed beside them where it is installed,
// as the alternative the sandbox was measured against (docs/design.md).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { blockDevicesOf } from '../../src/launcher/block-devices.ts';
import type { CgroupDriver, JobCgroup } from '../../src/launcher/cgroups/cgroup.ts';
import { detectCgroups } from '../../src/launcher/cgroups/detect.ts';
import { jobEnvironment } from '../../src/launcher/environment.ts';
import { resolveJobUser, type JobUser } from '../../src/launcher/job-user.ts';
import { ImageStore } from '../../src/launcher/images.ts';
import { DEFAULT_BINDS, parseBinds } from '../../src/jobs/host-binds.ts';
import { sandboxArguments, type SandboxSettings } from '../../src/launcher/sandbox.ts';
import { jobFile } from '../../src/jobs/job-directory.ts';
import type { JobSpec } from '../../src/jobs/job.ts';
import { writeEnvironmentFile } from '../../src/launcher/shim-files.ts';
import { SHIM_PATH } from '../../src/launcher/built-programs.ts';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { compare, latency, single, type Figure } from '../lib/report.ts';
import { interleave, Samples } from '../lib/stats.ts';

interface Protection {
  readonly pidns?: boolean;
  readonly netns?: boolean;
  readonly user?: boolean;
  readonly cgroups?: boolean;
  readonly seccomp?: boolean;
  readonly sandbox?: boolean;
}

const VARIANTS = {
  'shim, no isolation': {},
  'shim + own user (setuid nobody)': { user: true },
  'shim + PID and mount namespaces': { pidns: true },
  'shim + PID, mount and network namespaces': { pidns: true, netns: true },
  'shim + cgroups (v1: moved into 5 hierarchies; v2: born in one)': { cgroups: true },
  'shim + seccomp filter': { seccomp: true },
  'shim + private sandbox (PID, mount, net ns; binds, tmpfs, uid)': {
    pidns: true,
    netns: true,
    sandbox: true,
  },
  'shim + everything, no sandbox (before the sandbox)': {
    pidns: true,
    netns: true,
    user: true,
    cgroups: true,
  },
  'shim + everything (as the server runs it)': {
    pidns: true,
    netns: true,
    cgroups: true,
    seccomp: true,
    sandbox: true,
  },
} as const satisfies Record<string, Protection>;

const BWRAP = '/usr/bin/bwrap';
/** What bubblewrap would need for the same view, to `true`'s exit (it reports no start). */
const BWRAP_VARIANT = 'bubblewrap, the same view (to exit)' as const;

type Variant = keyof typeof VARIANTS | 'bare spawn' | typeof BWRAP_VARIANT;

/** The parent cgroup of the bench's jobs, as the server makes one per client (no totals). */
const BENCH_GROUP = { name: 'client-bench', totals: {} };

/** The server's defaults for a job that asks for no limits. */
const DEFAULT_LIMITS = { cpus: 1, memoryBytes: 512 * 1024 * 1024, pids: 512 };

/** The server's default sandbox, with one client at the first uid of its default range. */
const BENCH_SANDBOX: SandboxSettings = {
  binds: parseBinds(DEFAULT_BINDS),
  accounts: { range: { first: 200000, count: 1 }, uidOf: () => 200000 },
  images: new ImageStore('/nonexistent'),
};
const BENCH_SPEC: JobSpec = {
  stdin: false,
  volumes: [],
  stderr: 'separate',
  command: 'true',
  args: [],
  env: {},
  cwd: '/work',
  limits: DEFAULT_LIMITS,
  sandbox: 'private',
  network: 'none',
  labels: {},
};

export const isolationCost: Scenario = {
  name: 'isolation-cost',
  title: 'the supervisor alone, with each protection added on its own',
  usesServer: false,
  async run(context: BenchContext): Promise<ScenarioResult> {
    if (process.getuid?.() !== 0) throw new Error('needs root: namespaces, cgroups and setuid');
    const cgroups = await detectCgroups();
    const user = resolveJobUser('nobody');
    const dir = join(context.scratch, 'isolation-cost');
    mkdirSync(dir, { recursive: true });
    const variants: Variant[] = [
      'bare spawn',
      ...(Object.keys(VARIANTS) as (keyof typeof VARIANTS)[]),
      ...(existsSync(BWRAP) ? ([BWRAP_VARIANT] as const) : []),
    ];
    const runVariant = (samples: Samples) => async (variant: Variant) => {
      if (variant === 'bare spawn') {
        samples.add(variant, await bareSpawn());
        return;
      }
      if (variant === BWRAP_VARIANT) {
        samples.add(variant, await bubblewrap());
        return;
      }
      const protection: Protection = VARIANTS[variant];
      if (protection.cgroups === true && cgroups === undefined) return;
      await runShim(samples, variant, protection, { dir, user, cgroups });
    };
    await interleave(sized(context, 5, 2), variants, runVariant(new Samples()));
    const measured = new Samples();
    await interleave(sized(context, 100, 10), variants, runVariant(measured));
    if (cgroups !== undefined) await timeCgroupMoves(cgroups, sized(context, 30, 3), measured);

    const baseline = latency(measured.summary('bare spawn'));
    const figures: Figure[] = [];
    for (const variant of variants.slice(1)) {
      if (measured.summary(variant).n === 0) continue;
      figures.push(compare(variant, latency(measured.summary(variant)), 'bare spawn', baseline));
    }
    const plain = measured.summary('shim, no isolation').p50;
    const everything = measured.summary('shim + everything (as the server runs it)').p50;
    const before = measured.summary('shim + everything, no sandbox (before the sandbox)').p50;
    figures.push({
      name: 'cost of isolation at the supervisor (everything − none, p50)',
      value: single('ms', everything - plain),
    });
    figures.push({
      name: "the sandbox's own cost on job start (everything − everything without it, p50)",
      value: single('ms', everything - before),
    });
    if (cgroups !== undefined) {
      figures.push(
        compare(
          cgroups.version === 'v1'
            ? 'cgroup move (5 cgroup.procs writes) after 100 ms idle'
            : 'cgroup move (1 cgroup.procs write; jobs are born in theirs) after 100 ms idle',
          latency(measured.summary('move after idle')),
          'right after another move',
          latency(measured.summary('move right after another')),
        ),
      );
      figures.push({
        name: 'cgroup create + remove (server driver, not in the figures above)',
        value: single(
          'ms',
          measured.summary('cgroup create').p50 + measured.summary('cgroup remove').p50,
        ),
      });
    }
    return {
      figures,
      details: {
        cgroups: cgroups?.version ?? 'none',
        shim: SHIM_PATH,
        latencyMs: measured.all(),
        note: 'spawned from the bench process; the server spawns from a larger process',
      },
    };
  },
};

async function bareSpawn(): Promise<number> {
  const started = performance.now();
  const child = spawn('true', [], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  await once(child, 'spawn');
  const ms = performance.now() - started;
  await exited;
  return ms;
}

/** bubblewrap (Flatpak's sandbox) asked for the view jobshim builds, running `true`. */
async function bubblewrap(): Promise<number> {
  const args = ['--unshare-all', '--die-with-parent', '--new-session'];
  for (const bind of parseBinds(DEFAULT_BINDS)) args.push('--ro-bind-try', bind.path, bind.path);
  args.push('--proc', '/proc', '--dev', '/dev', '--ro-bind', '/sys', '/sys');
  for (const dir of ['/tmp', '/var/tmp', '/run', '/work']) args.push('--tmpfs', dir);
  args.push('--hostname', 'job-bench', '--chdir', '/work', '--', 'true');
  const started = performance.now();
  const child = spawn(BWRAP, args, { stdio: 'ignore', env: {} });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`bwrap exited ${code}`);
  return performance.now() - started;
}

async function runShim(
  samples: Samples,
  variant: string,
  protection: Protection,
  setup: { dir: string; user: JobUser; cgroups: CgroupDriver | undefined },
): Promise<void> {
  const id = `bench-${randomUUID()}`;
  const jobDir = join(setup.dir, id);
  mkdirSync(jobDir, { mode: 0o700 });
  let cgroup: JobCgroup | undefined;
  if (protection.cgroups === true && setup.cgroups !== undefined) {
    const created = performance.now();
    cgroup = await setup.cgroups.create(id, DEFAULT_LIMITS, blockDevicesOf(['/']), BENCH_GROUP);
    samples.add('cgroup create', performance.now() - created);
  }
  try {
    const args = [
      '--dir',
      jobDir,
      '--events',
      jobFile(jobDir, 'events'),
      '--control',
      jobFile(jobDir, 'control'),
    ];
    // As the server does: on v2 jobshim clones the job into the cgroup (no move), on v1 it moves it.
    for (const procs of cgroup?.procsFiles ?? []) args.push('--cgroup-procs', procs);
    if (cgroup?.directory !== undefined) args.push('--cgroup-dir', cgroup.directory);
    if (protection.pidns === true) args.push('--pidns');
    if (protection.netns === true) args.push('--netns');
    if (protection.seccomp === true) args.push('--seccomp');
    if (protection.sandbox === true) {
      // The server's own argument builder, so the bench times the sandbox the server asks for.
      args.push(...(await sandboxArguments(BENCH_SANDBOX, id, 'bench', BENCH_SPEC)));
    } else if (protection.user === true) {
      args.push('--uid', String(setup.user.uid), '--gid', String(setup.user.gid));
    }
    args.push('--cwd', '/', '--max-output', String(1024 ** 3), '--', 'true');
    // As the server does: the job's environment in a root-only file, none for jobshim itself.
    // Writing the file is the server's work, so it is done before the clock starts.
    const environmentFile = writeEnvironmentFile(
      jobDir,
      jobEnvironment(protection.user === true ? setup.user : undefined, {}),
    );
    const started = performance.now();
    const shim = spawn(SHIM_PATH, ['--env-file', environmentFile, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: {},
      cwd: '/',
    });
    const exited = once(shim, 'exit');
    const report = await firstLine(shim.stdout);
    const ms = performance.now() - started;
    if (!report.startsWith('started ')) throw new Error(`jobshim (${variant}): ${report}`);
    samples.add(variant, ms);
    await exited;
  } finally {
    if (cgroup !== undefined) {
      const removed = performance.now();
      await cgroup.remove();
      samples.add('cgroup remove', performance.now() - removed);
    }
  }
}

/**
 * Times moving a process into a job's cgroups the way jobshim places a job: one write of its pid
 * to `cgroup.procs` in each hierarchy. On cgroup v1 a move takes the kernel's
 * cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period unless another move
 * did so moments before; the two cases are timed apart.
 */
async function timeCgroupMoves(
  cgroups: CgroupDriver,
  rounds: number,
  samples: Samples,
): Promise<void> {
  const devices = blockDevicesOf(['/']);
  const first = await cgroups.create(`bench-${randomUUID()}`, DEFAULT_LIMITS, devices, BENCH_GROUP);
  const second = await cgroups.create(
    `bench-${randomUUID()}`,
    DEFAULT_LIMITS,
    devices,
    BENCH_GROUP,
  );
  const helper = spawn('sleep', ['600'], { stdio: 'ignore' });
  const exited = once(helper, 'exit');
  const move = (into: JobCgroup): number => {
    const started = performance.now();
    for (const procs of into.procsFiles) writeFileSync(procs, String(helper.pid));
    return performance.now() - started;
  };
  try {
    await once(helper, 'spawn');
    for (let round = 0; round < rounds; round++) {
      await sleep(100);
      samples.add('move after idle', move(first));
      samples.add('move right after another', move(second));
    }
  } finally {
    helper.kill('SIGKILL');
    await exited;
    await first.remove();
    await second.remove();
  }
}

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  const lines = createInterface({ input: stream });
  try {
    for await (const line of lines) return line;
    return '(no report)';
  } finally {
    lines.close();
  }
}
