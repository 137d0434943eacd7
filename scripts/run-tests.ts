// `npm test` [-- TEST_FILE...]: every test file under test/ (or those given), in two rounds. The
// suites that need the machine to themselves run first, one at a time; the rest then run two at
// a time, one per core of the machines CI runs on, since each starts its own server with its own
// directories and port. At the end, the slowest files with their times, so that a suite that
// grows is seen before it takes CI past its budget.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { globSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileTime } from './test-file-times.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPORTER = join(ROOT, 'scripts', 'test-file-times.ts');
const ALL_TESTS = 'test/**/*.test.ts';
/** A test's guard against a hang, as node:test's --test-timeout. */
const TEST_TIMEOUT_MS = 120_000;
/** Files side by side in the second round: the cores of the machines CI runs on. */
const SIDE_BY_SIDE = 2;
/** How many of the slowest files the closing table names. */
const SLOWEST_SHOWN = 15;

/**
 * The suites that run alone, and why. They measure the machine (time bounds, memory, latency
 * under load, free disk), so another suite's load fails them falsely; or they change what every
 * server on the host shares: the `jobworker` cgroups (the host's memory reserve is written on
 * the tree's root, a client's totals on its group, which another file's servers use for the same
 * client names), the host's processes, terminals and AIO contexts. A suite that fails only
 * beside another belongs here, its assertions unchanged.
 */
const ALONE: readonly { readonly files: string; readonly why: string }[] = [
  { files: 'test/isolation/*.test.ts', why: "the host's cgroup tree, processes and kernel pools" },
  { files: 'test/durability/*.test.ts', why: 'SIGKILLs under load against fixed hang guards' },
  { files: 'test/reliability/disk-floor.test.ts', why: 'free disk' },
  { files: 'test/reliability/faults.test.ts', why: 'memory and latency under stalled readers' },
  { files: 'test/reliability/pre-handshake.test.ts', why: 'thousands of connections, 3 s bound' },
  { files: 'test/reliability/stalled-listings.test.ts', why: 'memory, and /healthz under 1 s' },
  { files: 'test/reliability/tls-scan.test.ts', why: 'a 5 s bound on each probe' },
  { files: 'test/reliability/hostile-input.test.ts', why: 'a fuzzer that loads both cores' },
  { files: 'test/api/admission.test.ts', why: "the host's memory reserve on the cgroup tree" },
  { files: 'test/api/queue.test.ts', why: "the host's memory reserve on the cgroup tree" },
  { files: 'test/api/fairness.test.ts', why: "a rate limit's refill against the clock" },
  { files: 'test/api/fair-share.test.ts', why: "another client's every request succeeds" },
  { files: 'test/api/job-input.test.ts', why: "the server's memory while 200 MiB pass" },
  { files: 'test/api/output.test.ts', why: "the server's memory under many readers" },
  { files: 'test/api/stop.test.ts', why: 'a 1.5 s bound' },
  { files: 'test/certs/revocation-and-reload.test.ts', why: 'a revocation within 1 s' },
  { files: 'test/operations/monitoring.test.ts', why: "the data disk's free space" },
  { files: 'test/operations/systemd-service.test.ts', why: "the host's systemd (in the guest)" },
  // Failed side by side on a busy host and passed alone (2026-12-07): a connection reset while
  // records are appended, a tmux pane's resize not seen in time.
  { files: 'test/audit/verify.test.ts', why: 'verifies while requests append, under load' },
  { files: 'test/cli/terminal.test.ts', why: "waits for a tmux pane's resize" },
];

interface Round {
  readonly name: string;
  readonly files: readonly string[];
  readonly concurrency: number;
}

interface RoundResult {
  readonly round: Round;
  readonly passed: boolean;
  readonly wallMs: number;
  readonly times: readonly FileTime[];
}

/** The files named by a glob, from the project's directory, sorted. */
function filesOf(pattern: string): string[] {
  return globSync(pattern, { cwd: ROOT }).sort();
}

/**
 * The alone round and the side-by-side round for `files`. An entry of ALONE that names no file
 * fails the run: a suite moved or renamed would otherwise slip into the second round unseen.
 */
function rounds(files: readonly string[]): Round[] {
  const alone = new Set<string>();
  for (const entry of ALONE) {
    const named = filesOf(entry.files);
    if (named.length === 0) throw new Error(`scripts/run-tests.ts: ${entry.files} names no file`);
    for (const file of named) alone.add(file);
  }
  return [
    { name: 'alone', files: files.filter((file) => alone.has(file)), concurrency: 1 },
    {
      name: 'side by side',
      files: files.filter((file) => !alone.has(file)),
      concurrency: SIDE_BY_SIDE,
    },
  ];
}

/** One `node --test` over a round's files: the spec reporter on the terminal, times to a file. */
async function runRound(round: Round, scratch: string): Promise<RoundResult> {
  if (round.files.length === 0) return { round, passed: true, wallMs: 0, times: [] };
  const timesFile = join(scratch, `${round.name.replaceAll(' ', '-')}.jsonl`);
  const started = Date.now();
  const count = `${round.files.length} file${round.files.length === 1 ? '' : 's'}`;
  console.log(`\n# ${round.name}: ${count}, ${round.concurrency} at a time\n`);
  const child = spawn(
    process.execPath,
    [
      '--test',
      `--test-concurrency=${round.concurrency}`,
      `--test-timeout=${TEST_TIMEOUT_MS}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${REPORTER}`,
      `--test-reporter-destination=${timesFile}`,
      ...round.files,
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  const [code] = (await once(child, 'exit')) as [number | null];
  return { round, passed: code === 0, wallMs: Date.now() - started, times: readTimes(timesFile) };
}

function readTimes(path: string): FileTime[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as FileTime);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The closing table: each round's wall time, then the slowest files, then the failed ones. */
function report(results: readonly RoundResult[]): void {
  const rows = results.flatMap((result) =>
    result.times.map((time) => ({ ...time, round: result.round.name })),
  );
  const wall = results.reduce((sum, result) => sum + result.wallMs, 0);
  const perRound = results.map((r) => `${r.round.name} ${seconds(r.wallMs)}`).join(', ');
  console.log(`\n# test files: ${rows.length}, wall time ${seconds(wall)} (${perRound})`);
  console.log(`# the ${SLOWEST_SHOWN} slowest files:`);
  for (const row of [...rows].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_SHOWN)) {
    const file = relative(ROOT, row.file);
    console.log(`#  ${seconds(row.ms).padStart(8)}  ${row.round.padEnd(12)}  ${file}`);
  }
  for (const row of rows.filter((time) => !time.ok))
    console.log(`# failed: ${relative(ROOT, row.file)}`);
}

async function main(): Promise<number> {
  const given = process.argv.slice(2);
  const files = (given.length > 0 ? given : [ALL_TESTS]).flatMap((pattern) => {
    const named = filesOf(pattern);
    if (named.length === 0) throw new Error(`no test file is ${pattern}`);
    return named;
  });
  const unique = [...new Set(files)];
  const scratch = mkdtempSync(join(tmpdir(), 'jobworker-test-times-'));
  try {
    const results: RoundResult[] = [];
    // One round after the other, even when the first fails, so that one run shows every failure.
    for (const round of rounds(unique)) results.push(await runRound(round, scratch));
    report(results);
    return results.every((result) => result.passed) ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

process.exitCode = await main();
