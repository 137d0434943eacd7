// What a change bought, measured against the tree before it: the server of a git revision (by
// default HEAD) and the server of another revision or of the working tree run side by side, as
// root, and the rows of issue #38 that the server decides are alternated between them, round
// by round in a random order, with the same client: job start over keep-alive, one job followed
// to its end over keep-alive, and `true` jobs finished per second 8 at a time.
//   node bench/trees.ts [--before REV] [--after REV] [--files PATH,...] [--rounds N]
// A revision is taken with `git archive` (src/, native/, scripts/, bin/), its supervisor built
// by its own scripts/build-shim.ts; the working tree is used as it is, with its build/. With
// --files, "after" is the before revision with only those files taken from the working tree:
// one change measured alone while others edit other files of the same tree.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/helpers/server.ts';
import { apiClient, consume, deleteJob, inParallel, send, type ApiClient } from './lib/http.ts';
import { cpuTimeMs } from './lib/process-stats.ts';
import { format, table } from './lib/report.ts';
import { startBenchServer, type BenchServer } from './lib/server.ts';
import { interleave, Samples } from './lib/stats.ts';
import { startJob } from './scenarios/start-latency.ts';

const RATE_JOBS = 48;
const CONCURRENCY = 8;

const { values } = parseArgs({
  options: {
    before: { type: 'string', default: 'HEAD' },
    after: { type: 'string' },
    files: { type: 'string' },
    rounds: { type: 'string', default: '7' },
  },
});

/**
 * A copy of the project at `revision`, `files` replaced by the working tree's, with its
 * supervisor built; the caller removes it.
 */
function checkoutOf(revision: string, files: readonly string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'jobworker-trees-'));
  const archive = execFileSync('git', ['archive', revision, 'src', 'native', 'scripts', 'bin'], {
    cwd: ROOT,
    maxBuffer: 256 * 1024 * 1024,
  });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  for (const file of files) cpSync(join(ROOT, file), join(dir, file));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  execFileSync(process.execPath, [join(dir, 'scripts', 'build-shim.ts')], { cwd: dir });
  return dir;
}

interface Side {
  readonly name: string;
  readonly server: BenchServer;
  readonly one: ApiClient;
  readonly eight: ApiClient;
}

async function followTrue(client: ApiClient): Promise<string> {
  const sent = send(client, 'POST', '/v1/jobs?follow=true', { command: 'true' });
  const response = await sent.response;
  await consume(response);
  if (response.statusCode !== 201) throw new Error(`follow: ${response.statusCode}`);
  return String(response.headers['job-id']);
}

/** Jobs a round starts: 20 started, 20 followed, RATE_JOBS 8 at a time. */
const JOBS_PER_ROUND = 40 + RATE_JOBS;

/** One round on one side; the server's CPU time is summed apart, as it is counted in ticks. */
async function measureRound(side: Side, samples: Samples, cpu: Map<string, number>): Promise<void> {
  const cpuBefore = cpuTimeMs(side.server.pid);
  for (let index = 0; index < 20; index++)
    samples.add(`${side.name} start`, await startJob(side.one));
  for (let index = 0; index < 20; index++) {
    const started = performance.now();
    await followTrue(side.one);
    samples.add(`${side.name} follow`, performance.now() - started);
  }
  const started = performance.now();
  const ids = await inParallel(Array.from({ length: RATE_JOBS }), CONCURRENCY, () =>
    followTrue(side.eight),
  );
  samples.add(`${side.name} rate`, RATE_JOBS / ((performance.now() - started) / 1000));
  cpu.set(side.name, (cpu.get(side.name) ?? 0) + cpuTimeMs(side.server.pid) - cpuBefore);
  await inParallel(ids, CONCURRENCY, (id) => deleteJob(side.eight, id));
}

async function main(): Promise<void> {
  const dirs: string[] = [];
  const sides: Side[] = [];
  try {
    const beforeRoot = checkoutOf(values.before);
    dirs.push(beforeRoot);
    const files = values.files?.split(',') ?? [];
    const copied = values.after !== undefined || files.length > 0;
    const afterRoot = copied ? checkoutOf(values.after ?? values.before, files) : ROOT;
    if (copied) dirs.push(afterRoot);
    const before = await startBenchServer({ root: beforeRoot });
    const after = await startBenchServer({ root: afterRoot, certsFrom: before.certsDir });
    for (const [name, server] of [
      ['before', before],
      ['after', after],
    ] as const) {
      sides.push({
        name,
        server,
        one: apiClient(server, { maxSockets: 1 }),
        eight: apiClient(server, { maxSockets: CONCURRENCY }),
      });
    }
    const warm = new Samples();
    for (const side of sides) await measureRound(side, warm, new Map());
    const samples = new Samples();
    const cpu = new Map<string, number>();
    const rounds = Number(values.rounds);
    await interleave(rounds, ['before', 'after'] as const, (name) =>
      measureRound(sides.find((side) => side.name === name) as Side, samples, cpu),
    );
    const rows = [
      [
        'figure',
        `before (${values.before})`,
        `after (${values.after ?? (files.length > 0 ? `+ ${files.join(', ')}` : 'tree')})`,
        'after/before',
      ],
    ];
    for (const [figure, unit] of [
      ['start', 'ms'],
      ['follow', 'ms'],
      ['rate', 'jobs/s'],
    ] as const) {
      const b = samples.summary(`before ${figure}`).p50;
      const a = samples.summary(`after ${figure}`).p50;
      rows.push([figure, `${format(b)} ${unit}`, `${format(a)} ${unit}`, `${format(a / b)}×`]);
    }
    const cpuPerJob = (name: string): number => (cpu.get(name) ?? 0) / (rounds * JOBS_PER_ROUND);
    const [b, a] = [cpuPerJob('before'), cpuPerJob('after')];
    rows.push(['server CPU per job', `${format(b)} ms`, `${format(a)} ms`, `${format(a / b)}×`]);
    process.stdout.write(`${table(rows)}\n`);
  } finally {
    for (const side of sides) {
      side.one.agent.destroy();
      side.eight.agent.destroy();
      await side.server.dispose();
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
