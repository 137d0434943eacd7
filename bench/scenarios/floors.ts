// The rows of issue #38, each against a floor measured in the same run and alternated with it
// (every round runs the figure and its floor once each, in a random order), medians of the rounds:
//   job path   curl's `POST /v1/jobs?follow=true` of `true` minus curl's `GET /healthz`, against a
//              bare sandboxed spawn (bwrap, below) timed as a whole process: ≤ 1×
//   job start  `POST /v1/jobs` → `201` over keep-alive, server as root, against a bare `spawn` of
//              `true` to its 'spawn' event: < 2×
//   rate       `true` jobs finished per second, 8 at a time, one-request follow over keep-alive,
//              against bwrap 8 at a time: ≥ 0.8×
//   jobctl     `jobctl run -f -- true` as a whole process (dist/jobctl when built, else
//              bin/jobctl.js), against the least Node client making the same request: ≤ 1×
//   1 GiB      to one follower with curl, against curl reading a finished file from the minimal
//              Node server (≥ 1×) and `ssh host head -c 1G /dev/zero` (≥ 2×)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../test/helpers/server.ts';
import { startCeilingServer } from '../lib/ceiling-server.ts';
import { timeCommand } from '../lib/command.ts';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { apiClient, consume, deleteJob, inParallel, send, type ApiClient } from '../lib/http.ts';
import type { BenchServer } from '../lib/server.ts';
import { compare, latency, single, throughput, type Figure } from '../lib/report.ts';
import { interleave, Samples } from '../lib/stats.ts';
import { stripModuleGraph } from '../lib/strip-types.ts';
import { bareSpawn, startJob } from './start-latency.ts';

/** The bare sandboxed spawn, exactly: Debian's bubblewrap with every namespace new. */
export const BWRAP_TRUE = [
  'bwrap',
  '--unshare-all',
  '--die-with-parent',
  ...['--ro-bind', '/usr', '/usr', '--ro-bind', '/bin', '/bin'],
  ...['--ro-bind', '/lib', '/lib', '--ro-bind', '/lib64', '/lib64'],
  ...['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'],
  'true',
] as const;

const CONCURRENCY = 8;
const MIB = 1024 * 1024;

const AT_MOST_FLOOR = { text: '≤ 1× floor', met: (ratio: number) => ratio <= 1 };
const UNDER_TWICE = { text: '< 2× floor', met: (ratio: number) => ratio < 2 };

/** What the curl rows share: the CA, alice's certificate, and only the status printed. */
interface Curl {
  readonly url: string;
  readonly tls: readonly string[];
}

export const floors: Scenario = {
  name: 'floors',
  title: "issue #38's rows, each against its floor from the same run",
  async run(context: BenchContext): Promise<ScenarioResult> {
    const server = await context.server();
    const curl: Curl = {
      url: `https://localhost:${server.port}`,
      tls: [
        ...['--cacert', join(server.certsDir, 'ca.pem')],
        ...['--cert', join(server.certsDir, 'clients', 'alice', 'cert.pem')],
        ...['--key', join(server.certsDir, 'clients', 'alice', 'key.pem')],
      ],
    };
    const figures: Figure[] = [];
    const details: Record<string, unknown> = { bareSandboxedSpawn: BWRAP_TRUE.join(' ') };
    context.log('floors: job path');
    figures.push(...(await jobPath(context, curl, details)));
    context.log('floors: job start over keep-alive');
    figures.push(...(await jobStart(context, server, details)));
    context.log('floors: rate, 8 at a time');
    figures.push(...(await rate(context, server, details)));
    context.log('floors: jobctl');
    figures.push(...(await jobctl(context, server, details)));
    context.log('floors: 1 GiB to one follower');
    figures.push(...(await gigabyte(context, server, curl, details)));
    return { figures, details };
  },
};

/** curl's job minus curl's `/healthz` (what the job adds to any request) against bwrap. */
async function jobPath(
  context: BenchContext,
  curl: Curl,
  details: Record<string, unknown>,
): Promise<Figure[]> {
  const status = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...curl.tls];
  const job = [...status, '-H', 'Content-Type: application/json', '-d', '{"command":"true"}'];
  const variants = {
    'curl job': () => timeCommand('curl', [...job, `${curl.url}/v1/jobs?follow=true`], ok(201)),
    'curl /healthz': () => timeCommand('curl', [...status, `${curl.url}/healthz`], ok(200)),
    bwrap: () => timeCommand(BWRAP_TRUE[0], BWRAP_TRUE.slice(1)),
  } as const;
  const samples = await alternate(context, sized(context, 30, 5), variants, async (run) => {
    return (await run()).ms;
  });
  const of = (name: keyof typeof variants) => latency(samples.summary(name));
  details.jobPathMs = samples.all();
  const path = single('ms', of('curl job').median - of('curl /healthz').median);
  return [
    compare('job path (curl job − curl /healthz)', path, 'bwrap true', of('bwrap'), AT_MOST_FLOOR),
    compare('  curl job, whole', of('curl job'), 'curl /healthz', of('curl /healthz')),
  ];
}

/** `POST /v1/jobs` → `201` on one keep-alive connection, server as root, against a bare spawn. */
async function jobStart(
  context: BenchContext,
  server: BenchServer,
  details: Record<string, unknown>,
): Promise<Figure[]> {
  const client = apiClient(server, { maxSockets: 1 });
  try {
    const variants = {
      job: () => startJob(client),
      spawn: async () => (await bareSpawn('true')).execMs,
    } as const;
    const samples = await alternate(context, sized(context, 200, 20), variants, (run) => run());
    details.jobStartMs = samples.all();
    const of = (name: keyof typeof variants) => latency(samples.summary(name));
    return [
      compare('job start, keep-alive, as root', of('job'), 'bare spawn', of('spawn'), UNDER_TWICE),
    ];
  } finally {
    client.agent.destroy();
  }
}

/** Jobs finished per second, 8 at a time, each one `POST ?follow=true`, against bwrap 8 at a time. */
async function rate(
  context: BenchContext,
  server: BenchServer,
  details: Record<string, unknown>,
): Promise<Figure[]> {
  const jobs = sized(context, 96, 16);
  const client = apiClient(server, { maxSockets: CONCURRENCY });
  const ids: string[] = [];
  try {
    const variants = {
      jobs: () => timed(() => inParallel(range(jobs), CONCURRENCY, () => followTrue(client, ids))),
      bwrap: () =>
        timed(() =>
          inParallel(range(jobs), CONCURRENCY, () =>
            timeCommand(BWRAP_TRUE[0], BWRAP_TRUE.slice(1)),
          ),
        ),
    } as const;
    const samples = await alternate(context, sized(context, 7, 2), variants, (run) => run());
    details.rate = { jobsPerRound: jobs, concurrency: CONCURRENCY, roundMs: samples.all() };
    const perSecond = (name: keyof typeof variants) => perSecondOf(jobs, samples.summary(name).p50);
    const ours = perSecond('jobs');
    const floor = perSecond('bwrap');
    return [
      compare(
        'rate, 8 at a time (jobs/s)',
        single('jobs/s', ours),
        'bwrap ×8',
        single('jobs/s', floor),
        {
          text: '≥ 0.8× floor',
          met: (ratio) => ratio >= 0.8,
        },
      ),
    ];
  } finally {
    // The jobs are not what a later scenario should list or count.
    await inParallel(ids, CONCURRENCY, (id) => deleteJob(client, id).catch(() => undefined));
    client.agent.destroy();
  }
}

/** `jobctl run -f -- true` as a whole process, against the least Node client doing the same. */
async function jobctl(
  context: BenchContext,
  server: BenchServer,
  details: Record<string, unknown>,
): Promise<Figure[]> {
  const url = `https://localhost:${server.port}`;
  const alice = join(server.certsDir, 'clients', 'alice');
  const singleFile = join(ROOT, 'dist', 'jobctl');
  // A full run measures the single file of today's tree (a no-op when it is up to date); the quick
  // run takes it as built, or bin/jobctl.js.
  if (!context.quick)
    await timeCommand(process.execPath, [join(ROOT, 'scripts', 'build-jobctl.ts')]);
  const useSingleFile = existsSync(singleFile);
  const file = useSingleFile ? singleFile : process.execPath;
  const entry = useSingleFile ? [] : [join(ROOT, 'bin', 'jobctl.js')];
  const args = [...entry, '--server', url, '--certs-dir', server.certsDir, '--client', 'alice'];
  const minimal = stripModuleGraph(
    join(ROOT, 'bench', 'clients', 'minimal-run.ts'),
    ROOT,
    join(context.scratch, 'floors-stripped'),
  );
  // No user config; temporary files (jobctl's compile cache) in the scratch directory.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: context.scratch,
    TMPDIR: context.scratch,
    JOBCTL_CONFIG: join(context.scratch, 'no-jobctl-config.json'),
  };
  const options = { env, cwd: context.scratch };
  const ca = join(server.certsDir, 'ca.pem');
  const variants = {
    jobctl: () => timeCommand(file, [...args, 'run', '-f', '--', 'true'], options),
    minimal: () =>
      timeCommand(
        process.execPath,
        [minimal, url, ca, join(alice, 'cert.pem'), join(alice, 'key.pem'), 'true'],
        options,
      ),
  } as const;
  const samples = await alternate(context, sized(context, 30, 5), variants, async (run) => {
    return (await run()).ms;
  });
  details.jobctl = { command: [file, ...args], latencyMs: samples.all() };
  const of = (name: keyof typeof variants) => latency(samples.summary(name));
  const which = useSingleFile ? 'dist/jobctl' : 'bin/jobctl.js';
  return [
    compare(
      `jobctl run -f -- true (${which})`,
      of('jobctl'),
      'least Node client',
      of('minimal'),
      AT_MOST_FLOOR,
    ),
  ];
}

/** curl following a job's 1 GiB, against curl reading a finished file and against ssh. */
async function gigabyte(
  context: BenchContext,
  server: BenchServer,
  curl: Curl,
  details: Record<string, unknown>,
): Promise<Figure[]> {
  const ssh = await context.ssh();
  const bytes = sized(context, 1024 * MIB, 16 * MIB);
  const produce = ['head', '-c', String(bytes), '/dev/zero'];
  const file = join(context.scratch, 'floors-finished.bin');
  await timeCommand('sh', ['-c', `${produce.join(' ')} > '${file}'`]);
  const ceiling = await startCeilingServer(server.certsDir, file);
  const headers = join(context.scratch, 'floors-curl-headers');
  const download = ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', ...curl.tls];
  const spec = JSON.stringify({ command: produce[0], args: produce.slice(1) });
  const client = apiClient(server, { maxSockets: 1 });
  try {
    const variants = {
      job: async () => {
        const { ms } = await timeCommand(
          'curl',
          [
            ...download,
            '-D',
            headers,
            '-H',
            'Content-Type: application/json',
            '-d',
            spec,
            `${curl.url}/v1/jobs?follow=true`,
          ],
          ok(`201 ${bytes}`),
        );
        const id = /^job-id: (\S+)/im.exec(readFileSync(headers, 'utf8'))?.[1];
        if (id !== undefined) await deleteJob(client, id);
        return ms;
      },
      ceiling: async () =>
        (
          await timeCommand(
            'curl',
            [...download, `https://localhost:${ceiling.port}/`],
            ok(`200 ${bytes}`),
          )
        ).ms,
      ssh: () => toDevNull(ssh.sshPath, ssh.command(produce.join(' '), false)),
    } as const;
    const samples = await alternate(context, sized(context, 5, 2), variants, (run) => run());
    details.gigabyte = { bytes, timesMs: samples.all() };
    const of = (name: keyof typeof variants) => throughput(bytes, samples.summary(name));
    return [
      compare(
        '1 GiB to one follower, curl',
        of('job'),
        'minimal Node server, curl',
        of('ceiling'),
        {
          text: '≥ 1× floor',
          met: (ratio) => ratio >= 1,
        },
      ),
      compare('1 GiB to one follower, curl', of('job'), 'ssh', of('ssh'), {
        text: '≥ 2× ssh',
        met: (ratio) => ratio >= 2,
      }),
    ];
  } finally {
    client.agent.destroy();
    await ceiling.stop();
    rmSync(file, { force: true });
  }
}

/**
 * One warm-up round, then `rounds` measured ones; each round runs every variant once, in a random
 * order, so the figure and its floor meet the same noise.
 */
async function alternate<V extends Record<string, () => Promise<unknown>>>(
  context: BenchContext,
  rounds: number,
  variants: V,
  measure: (run: V[keyof V]) => Promise<number>,
): Promise<Samples> {
  const names = Object.keys(variants) as (keyof V & string)[];
  const into = (samples: Samples) => async (name: keyof V & string) => {
    samples.add(name, await measure(variants[name]));
  };
  await interleave(sized(context, 1, 1), names, into(new Samples()));
  const samples = new Samples();
  await interleave(rounds, names, into(samples));
  return samples;
}

/** One `true` job followed in its own request to its trailers; its id kept for deletion. */
async function followTrue(client: ApiClient, ids: string[]): Promise<void> {
  const sent = send(client, 'POST', '/v1/jobs?follow=true', { command: 'true' });
  const response = await sent.response;
  await consume(response);
  const id = response.headers['job-id'];
  if (typeof id === 'string') ids.push(id);
  if (response.statusCode !== 201 || response.trailers['job-status'] !== 'exited') {
    throw new Error(`POST /v1/jobs?follow=true: ${response.statusCode}`);
  }
}

/** Runs a command with its stdout on /dev/null, as curl's `-o /dev/null`; returns its time. */
async function toDevNull(file: string, args: readonly string[]): Promise<number> {
  const devNull = openSync('/dev/null', 'w');
  try {
    const started = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', devNull, 'inherit'] });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`${file} ${args.join(' ')}: exit ${code}`);
    return performance.now() - started;
  } finally {
    closeSync(devNull);
  }
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

function ok(expectStdout: number | string): { expectStdout: string } {
  return { expectStdout: String(expectStdout) };
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

function perSecondOf(count: number, ms: number): number {
  return count / (ms / 1000);
}
