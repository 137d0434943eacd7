// The benchmarks, in one run: `npm run bench` (`-- --quick` for the smoke test, `--only NAME` for
// some scenarios, `--json PATH` for where the figures go, `--cpu-prof` to profile the servers).
// It sets up what it needs (the project's server with a development PKI, once as root and once
// unprivileged; a private OpenSSH server on 127.0.0.1), runs every scenario with its baselines,
// prints the figures as a table and writes them as JSON. Everything it started is stopped at the
// end, on failure and on Ctrl-C too.
import '../src/util/require-node.ts';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/helpers/server.ts';
import type { BenchContext, Scenario } from './lib/context.ts';
import { ownCpuMs, ResourceProbe } from './lib/process-stats.ts';
import { renderTables, type ScenarioReport } from './lib/report.ts';
import { startBenchServer, type BenchServer } from './lib/server.ts';
import { ensureOpenSsh, SshFixture } from './lib/ssh.ts';
import { manyFollowers } from './scenarios/followers.ts';
import { isolationCost } from './scenarios/isolation-cost.ts';
import { floors } from './scenarios/floors.ts';
import { followerStorm } from './scenarios/follower-storm.ts';
import { history } from './scenarios/history.ts';
import { queue } from './scenarios/queue.ts';
import { manyJobs } from './scenarios/many-jobs.ts';
import { roundTrip } from './scenarios/round-trip.ts';
import { startLatency } from './scenarios/start-latency.ts';
import { statusRps } from './scenarios/status-rps.ts';
import { terminalEcho } from './scenarios/terminal-echo.ts';
import { outputThroughput } from './scenarios/throughput.ts';
import { volumeTransfer } from './scenarios/volume-transfer.ts';
import { egress } from './scenarios/egress.ts';

const SCENARIOS: readonly Scenario[] = [
  floors,
  isolationCost,
  startLatency,
  roundTrip,
  terminalEcho,
  statusRps,
  manyJobs,
  outputThroughput,
  manyFollowers,
  followerStorm,
  history,
  queue,
  volumeTransfer,
  egress,
];

/** The uid and gid of `nobody`: the unprivileged server runs as it. */
const NOBODY = { uid: 65534, gid: 65534 };

const USAGE = `Usage: npm run bench -- [--quick] [--only NAME[,NAME...]] [--json PATH] [--cpu-prof]

  --quick      small sizes and few repetitions: checks the harness works (CI), measures nothing
  --only       run only these scenarios: ${SCENARIOS.map((scenario) => scenario.name).join(', ')}
  --json       where to write the figures (default bench/results/latest.json, or
               bench/results/latest-quick.json with --quick)
  --cpu-prof   start the servers with --cpu-prof; profiles go to bench/results/profiles/
`;

interface Options {
  readonly quick: boolean;
  readonly only: readonly Scenario[];
  readonly jsonPath: string;
  readonly cpuProf: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      json: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  let only = SCENARIOS;
  if (values.only !== undefined) {
    const names = values.only.split(',').map((name) => name.trim());
    const unknown = names.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
    if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}\n\n${USAGE}`);
    only = SCENARIOS.filter((scenario) => names.includes(scenario.name));
  }
  const results = join(ROOT, 'bench', 'results');
  return {
    quick: values.quick,
    only,
    jsonPath: resolve(
      values.json ?? join(results, values.quick ? 'latest-quick.json' : 'latest.json'),
    ),
    cpuProf: values['cpu-prof'],
  };
}

/** Servers and sshd, each started on first use and all stopped by `close`. */
class Fixtures {
  readonly #options: Options;
  readonly #log: (message: string) => void;
  #server: Promise<BenchServer> | undefined;
  #unprivileged: Promise<BenchServer> | undefined;
  #ssh: Promise<SshFixture> | undefined;
  readonly #fresh: Promise<BenchServer>[] = [];
  #closed = false;

  constructor(options: Options, log: (message: string) => void) {
    this.#options = options;
    this.#log = log;
  }

  /** With --cpu-prof, each server writes its profile to a directory of its own, one it can write. */
  #env(label: string, user?: { uid: number; gid: number }): Record<string, string> {
    if (!this.#options.cpuProf) return {};
    const dir = join(ROOT, 'bench', 'results', 'profiles', label);
    mkdirSync(dir, { recursive: true });
    if (user !== undefined) chownSync(dir, user.uid, user.gid);
    return { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` };
  }

  /** Nothing may start once shutdown has begun: it would outlive the bench. */
  #assertOpen(): void {
    if (this.#closed) throw new Error('the bench is shutting down');
  }

  server(): Promise<BenchServer> {
    this.#assertOpen();
    this.#server ??= (async () => {
      this.#log('starting the server (root)');
      return startBenchServer({ env: this.#env('root') });
    })();
    return this.#server;
  }

  unprivilegedServer(): Promise<BenchServer> {
    this.#assertOpen();
    this.#unprivileged ??= (async () => {
      const root = await this.server();
      this.#log('starting the server (unprivileged)');
      return startBenchServer({
        user: NOBODY,
        certsFrom: root.certsDir,
        env: this.#env('unprivileged', NOBODY),
      });
    })();
    return this.#unprivileged;
  }

  freshServer(
    env: Record<string, string> = {},
    prepare?: (dataDir: string) => void,
  ): Promise<BenchServer> {
    this.#assertOpen();
    const fresh = (async () => {
      const root = await this.server();
      this.#log('starting a fresh server (root)');
      return startBenchServer({
        certsFrom: root.certsDir,
        env: { ...this.#env('fresh'), ...env },
        ...(prepare === undefined ? {} : { prepare }),
      });
    })();
    this.#fresh.push(fresh);
    return fresh;
  }

  ssh(): Promise<SshFixture> {
    this.#assertOpen();
    this.#ssh ??= (async () => {
      await ensureOpenSsh(this.#log);
      this.#log('starting sshd');
      return SshFixture.start();
    })();
    return this.#ssh;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const stops = [this.#server, this.#unprivileged, ...this.#fresh].map(async (pending) => {
      const server = await pending?.catch(() => undefined);
      await server?.dispose();
    });
    stops.push(
      (async () => {
        const ssh = await this.#ssh?.catch(() => undefined);
        await ssh?.stop();
      })(),
    );
    await Promise.allSettled(stops);
  }
}

function machine(): Record<string, unknown> {
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    commit = undefined;
  }
  return {
    node: process.version,
    kernel: release(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryBytes: totalmem(),
    loadAverageAtStart: loadavg(),
    commit,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const began = performance.now();
  const log = (message: string): void => {
    process.stderr.write(
      `[bench ${((performance.now() - began) / 1000).toFixed(1)}s] ${message}\n`,
    );
  };
  const scratch = mkdtempSync(join(tmpdir(), 'jobworker-bench-scratch-'));
  const fixtures = new Fixtures(options, log);
  // One shutdown, however many ask for it: Ctrl-C while the run is ending waits for the same one.
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await fixtures.close();
      rmSync(scratch, { recursive: true, force: true });
    })());
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      log(`${signal}: stopping everything`);
      void close().finally(() => process.exit(130));
    });
  }
  const context: BenchContext = {
    quick: options.quick,
    server: () => fixtures.server(),
    unprivilegedServer: () => fixtures.unprivilegedServer(),
    freshServer: (env, prepare) => fixtures.freshServer(env, prepare),
    ssh: () => fixtures.ssh(),
    scratch,
    log,
  };
  const meta = { ...machine(), quick: options.quick, date: new Date().toISOString() };
  const reports: ScenarioReport[] = [];
  try {
    for (const scenario of options.only) {
      if (interrupted) break;
      log(`${scenario.name}: ${scenario.title}`);
      const server = scenario.usesServer === false ? undefined : await fixtures.server();
      const probe = server === undefined ? undefined : new ResourceProbe(server.pid);
      probe?.start();
      const cpuBefore = ownCpuMs();
      const started = performance.now();
      try {
        const result = await scenario.run(context);
        reports.push({
          name: scenario.name,
          title: scenario.title,
          figures: result.figures,
          details: result.details,
          wallMs: performance.now() - started,
          benchCpuMs: ownCpuMs() - cpuBefore,
          ...(probe === undefined ? {} : { server: probe.stop() }),
          ...(result.server === undefined ? {} : { server: result.server }),
        });
      } catch (error) {
        log(`${scenario.name} FAILED: ${(error as Error).stack ?? String(error)}`);
        reports.push({
          name: scenario.name,
          title: scenario.title,
          figures: [],
          details: {},
          error: (error as Error).message,
          wallMs: performance.now() - started,
        });
      }
    }
  } finally {
    await close();
  }
  const totalMs = performance.now() - began;
  // An interrupted run's figures are partial: they must not replace a complete run's.
  if (interrupted) return 130;
  process.stdout.write(`\n${renderTables(reports)}`);
  mkdirSync(dirname(options.jsonPath), { recursive: true });
  writeFileSync(
    options.jsonPath,
    `${JSON.stringify({ meta: { ...meta, totalMs, loadAverageAtEnd: loadavg() }, scenarios: reports }, null, 2)}\n`,
  );
  log(`done in ${(totalMs / 1000).toFixed(1)} s; figures in ${options.jsonPath}`);
  // The smoke test asserts the harness, not the goals: every scenario ran, and the correctness
  // figures (every follower got every byte, every job ended) held.
  const broken = reports.filter(
    (report) =>
      report.error !== undefined ||
      report.figures.some((figure) => figure.goal?.startsWith('all ') === true && !figure.met) ||
      report.figures.some((figure) => figure.goal === 'every job ends' && !figure.met),
  );
  return broken.length === 0 ? 0 : 1;
}

process.exitCode = await main();
