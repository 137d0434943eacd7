// Load and soak against the real server on loopback: N concurrent clients, for a fixed time,
// each looping over what clients do (start a short job, follow its output to the end, list,
// inspect, delete it; now and then start a long job and stop it). Every request is counted by
// outcome, and afterwards the host is checked for what load must not leave behind: zombies,
// leaked file descriptors, cgroups or supervisors, and server memory above its baseline. With
// `--fault kill` the server is SIGKILLed half-way and restarted on the same directories, and every
// job that was answered 201 must still be there, with a plausible end and its whole output.
//
//   node bench/reliability/load.ts [--clients 200] [--seconds 60] [--rounds 2]
//       [--fault none|kill] [--max-requests 500000] [--server-env NAME=VALUE]... [--json FILE]
//
// Exits non-zero if any check fails. Figures go to stdout and, as JSON, to --json (default: a
// file in the system's temporary directory, whose name is printed).
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startServer, type TestServer } from '../../test/helpers/server.ts';

const { values: flags } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '60' },
    fault: { type: 'string', default: 'none' },
    rounds: { type: 'string', default: '2' },
    'server-env': { type: 'string', multiple: true, default: [] },
    'max-requests': { type: 'string', default: '500000' },
    json: { type: 'string' },
  },
});
const CLIENTS = Number(flags.clients);
const SECONDS = Number(flags.seconds);
const MAX_REQUESTS = Number(flags['max-requests']);
const FAULT = flags.fault;
const ROUNDS = Number(flags.rounds);
if (
  !(CLIENTS > 0 && SECONDS > 0 && MAX_REQUESTS > 0 && ROUNDS >= 2) ||
  !['none', 'kill'].includes(FAULT)
) {
  console.error(
    'usage: node bench/reliability/load.ts [--clients N] [--seconds S] [--fault none|kill]',
  );
  process.exit(2);
}
const JSON_OUT = flags.json ?? join(tmpdir(), `jobworker-load-${Date.now()}.json`);

/** The identities that may start jobs; clients take them in turn. */
const IDENTITIES = ['alice', 'bob', 'admin'] as const;
/**
 * The server's environment. Its inspector, on loopback only and on a port of its own for each
 * start, is how the bench gives the server a GC before measuring its memory: RSS alone would
 * count garbage that a collection would free.
 */
function serverEnv(): Record<string, string> {
  target.inspectorPort = 20_000 + Math.floor(Math.random() * 20_000);
  return {
    NODE_OPTIONS: `--inspect=127.0.0.1:${target.inspectorPort}`,
    // Per-client rate limits and running-job caps (when the server has them) must not throttle
    // the load: this measures the server, not its fairness policy.
    CLIENT_RATE_LIMIT: '1000000',
    CLIENT_MAX_RUNNING: '1000000',
    RETENTION: '0',
    // --server-env NAME=VALUE, e.g. MALLOC_ARENA_MAX=2 to see what the allocator keeps.
    ...Object.fromEntries(
      flags['server-env'].map((pair) => [
        pair.slice(0, pair.indexOf('=')),
        pair.slice(pair.indexOf('=') + 1),
      ]),
    ),
  };
}
/** A short job that prints its token (sh is dash here: no $RANDOM), so its output is checkable. */
const shortJob = (token: string) => ({
  command: 'sh',
  args: ['-c', 'echo "$0"; sleep 0.1', token],
});
const LONG_JOB = { command: 'sleep', args: ['600'] };
const REQUEST_TIMEOUT_MS = 120_000;
const CGROUP_HIERARCHIES = ['cpu', 'cpuacct', 'memory', 'pids', 'blkio', 'unified', ''];

// ---------- /proc ----------

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  readonly argv: string[];
}

function processes(): ProcessInfo[] {
  const list: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      list.push({
        pid: Number(entry),
        ppid: Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]),
        state: /^State:\s+(\S)/m.exec(status)?.[1] ?? '?',
        argv: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0'),
      });
    } catch {
      // it ended while we looked
    }
  }
  return list;
}

const isOurSupervisor = (info: ProcessInfo, baseDir: string): boolean =>
  info.argv[0]?.endsWith('/jobshim') === true && info.argv.some((arg) => arg.startsWith(baseDir));

/** Zombies whose parent is the server or one of our supervisors (nobody else's business). */
function zombiesOf(serverPid: number, baseDir: string): ProcessInfo[] {
  const all = processes();
  const ours = new Set([
    serverPid,
    ...all.filter((p) => isOurSupervisor(p, baseDir)).map((p) => p.pid),
  ]);
  return all.filter((p) => p.state === 'Z' && ours.has(p.ppid));
}

function leftoverCgroups(ids: Iterable<string>): string[] {
  const left: string[] = [];
  for (const id of ids) {
    for (const hierarchy of CGROUP_HIERARCHIES) {
      const dir = join('/sys/fs/cgroup', hierarchy, 'jobworker', id);
      if (existsSync(dir)) left.push(dir);
    }
  }
  return left;
}

interface Memory {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  /** Memory of Buffers and other objects outside the JS heap. */
  readonly external: number;
  readonly arrayBuffers: number;
}

/** Collects garbage in the server (twice, for weak references) and reads its memory usage. */
async function memoryAfterGc(): Promise<Memory> {
  const targets = (await (
    await fetch(`http://127.0.0.1:${target.inspectorPort}/json/list`)
  ).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let nextId = 0;
  const send = (method: string, params: Record<string, unknown> = {}): Promise<unknown> => {
    const id = (nextId += 1);
    return new Promise((resolve) => {
      const onMessage = (event: MessageEvent): void => {
        const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
        if (message.id !== id) return;
        socket.removeEventListener('message', onMessage);
        resolve(message.result);
      };
      socket.addEventListener('message', onMessage);
      socket.send(JSON.stringify({ id, method, params }));
    });
  };
  try {
    await send('HeapProfiler.collectGarbage');
    await send('HeapProfiler.collectGarbage');
    const result = (await send('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    return JSON.parse(result.result.value) as Memory;
  } finally {
    socket.close();
  }
}

/** Every job the server has a directory for, answered or not: whose cgroups must be gone. */
function jobIdsOnDisk(baseDir: string): string[] {
  const jobs = join(baseDir, 'data', 'jobs');
  return existsSync(jobs) ? readdirSync(jobs) : [];
}

// ---------- requests ----------

interface Answer {
  readonly status: number;
  readonly body: Buffer;
  readonly trailers: NodeJS.Dict<string>;
}

/** The live server: replaced when the fault restarts it, so clients follow it to its new port. */
const target: {
  server: TestServer;
  up: Promise<void>;
  restartedAt: number;
  inspectorPort: number;
} = {
  server: undefined as unknown as TestServer,
  up: Promise.resolve(),
  restartedAt: 0,
  inspectorPort: 0,
};

function call(agent: Agent, method: string, path: string, json?: unknown): Promise<Answer> {
  const body = json === undefined ? undefined : JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: target.server.port,
        method,
        path,
        agent,
        servername: 'localhost',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks),
            trailers: response.trailers,
          }),
        );
        response.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

// ---------- accounting ----------

type Operation = 'start' | 'follow' | 'list' | 'inspect' | 'stop' | 'delete';

const counts = new Map<string, number>();
const latencies = new Map<Operation, number[]>();
const failures: string[] = [];
let requests = 0;
let stopping = false;

function count(operation: Operation, outcome: 'ok' | 'failed' | 'interrupted'): void {
  const key = `${operation} ${outcome}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

class Interrupted extends Error {}

/**
 * One request, checked: `expect` says whether the answer is what a working server gives. A
 * network error while the fault has the server down is an interruption, not a failure.
 */
async function checked(
  operation: Operation,
  agent: Agent,
  method: string,
  path: string,
  expect: (answer: Answer) => boolean,
  json?: unknown,
): Promise<Answer> {
  requests += 1;
  const started = performance.now();
  let answer: Answer;
  try {
    answer = await call(agent, method, path, json);
  } catch (error) {
    if (faultInProgress || started < target.restartedAt) {
      count(operation, 'interrupted');
      throw new Interrupted();
    }
    count(operation, 'failed');
    failures.push(`${operation} ${method} ${path}: ${(error as Error).message}`);
    throw error;
  }
  const elapsed = performance.now() - started;
  if (!expect(answer)) {
    count(operation, 'failed');
    failures.push(
      `${operation} ${method} ${path}: ${answer.status} ${answer.body.toString().slice(0, 300)}`,
    );
    throw new Error(`${operation} failed`);
  }
  count(operation, 'ok');
  let list = latencies.get(operation);
  if (list === undefined) latencies.set(operation, (list = []));
  list.push(elapsed);
  return answer;
}

// ---------- the clients ----------

/** Every job answered 201, and what it was (the token a short job prints, or 'long'). */
const created = new Map<string, string>();
const deleted = new Set<string>();
/** Deletes that were sent: one the fault interrupted may or may not have happened. */
const deleting = new Set<string>();
let faultInProgress = false;

async function client(index: number, deadline: number): Promise<void> {
  const name = `c${index}`;
  const identity = IDENTITIES[index % IDENTITIES.length]!;
  let agent = new Agent({ ...target.server.credentials(identity), keepAlive: true, maxSockets: 4 });
  let iteration = 0;
  while (Date.now() < deadline && requests < MAX_REQUESTS && !stopping) {
    iteration += 1;
    try {
      await cycle(agent, `${name}.${iteration}`, iteration);
    } catch (error) {
      if (!(error instanceof Interrupted)) continue;
      // The server is being restarted: wait for it, with fresh connections.
      await target.up;
      agent.destroy();
      agent = new Agent({ ...target.server.credentials(identity), keepAlive: true, maxSockets: 4 });
    }
  }
  agent.destroy();
}

const ok = (status: number) => (answer: Answer) => answer.status === status;

async function cycle(agent: Agent, token: string, iteration: number): Promise<void> {
  // Every fifth cycle, from the second on: a long job, stopped.
  const long = iteration % 5 === 2;
  const started = await checked(
    'start',
    agent,
    'POST',
    '/v1/jobs',
    ok(201),
    long ? LONG_JOB : shortJob(token),
  );
  const id = (JSON.parse(started.body.toString()) as { id: string }).id;
  created.set(id, long ? 'long' : token);
  if (long) {
    await checked('stop', agent, 'POST', `/v1/jobs/${id}/stop`, ok(202));
  }
  await checked(
    'follow',
    agent,
    'GET',
    `/v1/jobs/${id}/output?follow=true`,
    (answer) => answer.status === 200 && (long || answer.body.toString() === `${token}\n`),
  );
  await checked('list', agent, 'GET', '/v1/jobs?status=exited', ok(200));
  await checked('inspect', agent, 'GET', `/v1/jobs/${id}`, (answer) => {
    if (answer.status !== 200) return false;
    const job = JSON.parse(answer.body.toString()) as { status: string; exitCode: number | null };
    return long ? job.status === 'stopped' : job.status === 'exited' && job.exitCode === 0;
  });
  if (iteration % 2 === 0) {
    deleting.add(id);
    await checked('delete', agent, 'DELETE', `/v1/jobs/${id}`, ok(204));
    deleted.add(id);
  }
}

// ---------- the fault ----------

/** SIGKILLs the server and starts a new one on its directories; throws if it cannot start. */
async function killAndRestart(baseDir: string): Promise<number> {
  faultInProgress = true;
  let markUp!: () => void;
  target.up = new Promise((resolve) => (markUp = resolve));
  const killedAt = performance.now();
  await target.server.stop('SIGKILL');
  try {
    target.server = await startServer({ baseDir, env: serverEnv() });
  } catch (error) {
    // Nothing to come back to: the clients stop, and the run reports why.
    stopping = true;
    throw error;
  } finally {
    target.restartedAt = performance.now();
    faultInProgress = false;
    markUp();
  }
  return target.restartedAt - killedAt;
}

/**
 * After a failed run, whatever the server left running: its supervisors (their jobs die with
 * them, PR_SET_PDEATHSIG) and then the jobs' cgroups.
 */
async function reapLeftovers(baseDir: string): Promise<void> {
  for (const info of processes().filter((p) => isOurSupervisor(p, baseDir))) {
    try {
      process.kill(info.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await sleep(1000);
  for (const dir of leftoverCgroups(jobIdsOnDisk(baseDir))) {
    try {
      rmdirSync(dir);
    } catch {
      // still busy or already gone
    }
  }
}

// ---------- the run ----------

interface Snapshot extends Memory {
  readonly fds: number;
}

async function snapshot(server: TestServer): Promise<Snapshot> {
  return { ...(await memoryAfterGc()), fds: openFds(server.child.pid!) };
}

async function warmUp(server: TestServer): Promise<void> {
  const agent = new Agent({ ...server.credentials('alice'), keepAlive: true });
  for (let i = 0; i < 10; i += 1) {
    await call(agent, 'POST', '/v1/jobs?follow=true', { command: 'true' });
    await call(agent, 'GET', '/healthz');
  }
  agent.destroy();
  await sleep(500);
}

/** Stops whatever still runs (long jobs an interruption left behind) and waits for the end. */
async function settle(server: TestServer): Promise<number> {
  const agent = new Agent({ ...server.credentials('admin'), keepAlive: true });
  let stoppedByCleanup = 0;
  try {
    for (let attempt = 0; attempt < 120; attempt += 1) {
      const unfinished = '/v1/jobs?status=queued,starting,running,stopping&limit=1000';
      const live = (
        JSON.parse((await call(agent, 'GET', unfinished)).body.toString()) as {
          jobs: { id: string; status: string }[];
        }
      ).jobs;
      if (live.length === 0) return stoppedByCleanup;
      for (const job of live.filter((j) => j.status === 'running' || j.status === 'queued')) {
        await call(agent, 'POST', `/v1/jobs/${job.id}/stop`);
        stoppedByCleanup += 1;
      }
      await sleep(500);
    }
    throw new Error('jobs still running a minute after the load ended');
  } finally {
    agent.destroy();
  }
}

interface Verification {
  readonly checked: number;
  readonly lost: string[];
  readonly implausible: string[];
  readonly outputBytesChecked: number;
}

/** Every job answered 201 and not deleted is there, ended plausibly, with its whole output. */
async function verifyJobs(server: TestServer): Promise<Verification> {
  const agent = new Agent({ ...server.credentials('admin'), keepAlive: true, maxSockets: 16 });
  const lost: string[] = [];
  const implausible: string[] = [];
  let outputBytesChecked = 0;
  const ids = [...created.entries()].filter(([id]) => !deleted.has(id));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < ids.length) {
        const [id, token] = ids[next++]!;
        const kind = token === 'long' ? 'long' : 'short';
        const answer = await call(agent, 'GET', `/v1/jobs/${id}`);
        if (answer.status === 404 && deleting.has(id)) continue;
        if (answer.status !== 200) {
          lost.push(`${id}: ${answer.status}`);
          continue;
        }
        const job = JSON.parse(answer.body.toString()) as {
          status: string;
          exitCode: number | null;
          signal: string | null;
        };
        const plausible =
          kind === 'short'
            ? job.status === 'exited' && job.exitCode === 0
            : job.status === 'stopped' || (job.status === 'exited' && job.signal !== null);
        if (!plausible) implausible.push(`${id} (${kind}): ${JSON.stringify(job)}`);
        if (job.status === 'lost') lost.push(`${id}: lost`);
        if (kind === 'short') {
          const output = await call(agent, 'GET', `/v1/jobs/${id}/output`);
          outputBytesChecked += output.body.length;
          if (output.body.toString() !== `${token}\n`)
            lost.push(`${id}: output ${JSON.stringify(output.body.toString())}`);
        }
      }
    }),
  );
  agent.destroy();
  return { checked: ids.length, lost, implausible, outputBytesChecked };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const MiB = 2 ** 20;

function sum(suffix: string): number {
  return [...counts.entries()]
    .filter(([key]) => key.endsWith(suffix))
    .reduce((total, [, n]) => total + n, 0);
}

function printTable(operations: readonly Operation[]): void {
  console.log('\noperation   ok        failed  interrupted  p50 ms   p95 ms   p99 ms');
  for (const op of operations) {
    const times = latencies.get(op) ?? [];
    const cell = (value: number | string, width: number): string => String(value).padEnd(width);
    console.log(
      `${cell(op, 10)}  ${cell(counts.get(`${op} ok`) ?? 0, 8)}  ` +
        `${cell(counts.get(`${op} failed`) ?? 0, 6)}  ${cell(counts.get(`${op} interrupted`) ?? 0, 11)}  ` +
        `${cell(percentile(times, 50).toFixed(1), 7)}  ${cell(percentile(times, 95).toFixed(1), 7)}  ` +
        `${percentile(times, 99).toFixed(1)}`,
    );
  }
}

/**
 * The load runs in rounds (two by default) that share the time, with the server settled and
 * measured after each: memory back to its baseline, and no growth from one round to the next,
 * is what tells a leak from an allocator that keeps its pages. With `--fault kill`, the kill
 * comes half-way through the first round.
 */
async function main(): Promise<void> {
  target.server = await startServer({ env: serverEnv() });
  const baseDir = target.server.baseDir;
  let exitCode = 0;
  const onSignal = (): void => {
    stopping = true;
  };
  process.once('SIGINT', onSignal);
  try {
    await warmUp(target.server);
    const baseline = await snapshot(target.server);
    const zombiesBefore = zombiesOf(target.server.child.pid!, baseDir).length;
    let peakRss = baseline.rss;
    let serverErrors = 0;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, rssBytes(target.server.child.pid!));
      } catch {
        // between a kill and a restart
      }
      // The helper keeps every log line; count the errors and let the rest go.
      const logs = target.server.logs;
      serverErrors += logs.filter((line) => Number(line.level) >= 50).length;
      logs.length = 0;
    }, 250);

    console.log(
      `load: ${CLIENTS} clients for ${SECONDS} s (${ROUNDS} rounds) against 127.0.0.1:${target.server.port}` +
        (FAULT === 'kill' ? ', SIGKILL and restart half-way through the first round' : ''),
    );
    const startedAt = performance.now();
    const roundMs = (SECONDS * 1000) / ROUNDS;
    let outageMs: number | undefined;
    let stoppedByCleanup = 0;
    const rounds: Snapshot[] = [];
    let loadMs = 0;
    for (let round = 0; round < ROUNDS && !stopping; round += 1) {
      const roundStarted = performance.now();
      const deadline = Date.now() + roundMs;
      const load = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i, deadline)));
      if (FAULT === 'kill' && round === 0) {
        await sleep(roundMs / 2);
        try {
          outageMs = await killAndRestart(baseDir);
        } catch (error) {
          await load;
          clearInterval(sampler);
          const message = (error as Error).message;
          console.log(`FAIL  the server did not come back after SIGKILL: ${message}`);
          const figures = {
            clients: CLIENTS,
            seconds: SECONDS,
            fault: FAULT,
            restartFailed: message,
            counts: Object.fromEntries(counts),
            jobsStarted: created.size,
            passed: false,
          };
          writeFileSync(JSON_OUT, `${JSON.stringify(figures, null, 2)}\n`);
          console.log(`figures written to ${JSON_OUT}`);
          await reapLeftovers(baseDir);
          exitCode = 1;
          return;
        }
        console.log(
          `fault: server SIGKILLed and restarted (${outageMs.toFixed(0)} ms without a server)`,
        );
      }
      await load;
      loadMs += performance.now() - roundStarted;
      stoppedByCleanup += await settle(target.server);
      // Let keep-alive connections close and supervisors exit, then measure.
      await sleep(5000);
      rounds.push(await snapshot(target.server));
      console.log(
        `round ${round + 1}: ${sum(' ok')} requests served so far; server after a GC: ` +
          `${(rounds[round]!.heapUsed / MiB).toFixed(1)} MiB heap, ` +
          `${(rounds[round]!.external / MiB).toFixed(1)} MiB external, ` +
          `${(rounds[round]!.rss / MiB).toFixed(0)} MiB RSS, ${rounds[round]!.fds} fds`,
      );
    }
    const elapsed = (performance.now() - startedAt) / 1000;
    const loadSeconds = loadMs / 1000;
    clearInterval(sampler);
    serverErrors += target.server.logs.filter((line) => Number(line.level) >= 50).length;

    const verification = await verifyJobs(target.server);
    const pid = target.server.child.pid!;
    const first = rounds[0]!;
    // The allocator's pages after the first round are its working set; later rounds must not add.
    const plateau = rounds.length > 2 ? rounds[1]! : first;
    const after = rounds.at(-1)!;
    // After a kill the process is a new one: its own first round is its baseline.
    const reference = FAULT === 'kill' ? first : baseline;
    const supervisors = processes().filter((p) => isOurSupervisor(p, baseDir));
    const zombies = zombiesOf(pid, baseDir);
    // Jobs whose answer a fault cut off have cgroups too: every job directory counts, and the
    // ids of deleted jobs (whose directories are gone) come from the answers.
    const cgroups = leftoverCgroups(new Set([...created.keys(), ...jobIdsOnDisk(baseDir)]));
    const served = sum(' ok');
    const failed = sum(' failed');
    const interrupted = sum(' interrupted');
    const operations: Operation[] = ['start', 'follow', 'list', 'inspect', 'stop', 'delete'];
    printTable(operations);

    const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
    const checks: [string, boolean, string][] = [
      ['zero failed requests', failed === 0, `${failed} failed`],
      ['no job lost', verification.lost.length === 0, `${verification.lost.length} lost`],
      [
        'every job ended plausibly',
        verification.implausible.length === 0,
        `${verification.implausible.length} implausible`,
      ],
      [
        'no zombies',
        zombies.length <= zombiesBefore,
        `${zombies.length} (before: ${zombiesBefore})`,
      ],
      ['no supervisors left', supervisors.length === 0, `${supervisors.length} left`],
      ['no cgroups left', cgroups.length === 0, `${cgroups.length} left`],
      [
        'server fds back to baseline',
        after.fds <= reference.fds + 10,
        `${baseline.fds} at start, ${rounds.map((r) => r.fds).join(' → ')} after each round`,
      ],
      [
        'server external memory back to baseline after a GC',
        after.external <= reference.external + 16 * MiB,
        `${mib(baseline.external)} MiB at start, ${rounds.map((r) => mib(r.external)).join(' → ')} MiB after each round`,
      ],
      [
        'server heap back to baseline after a GC',
        after.heapUsed <= reference.heapUsed + 16 * MiB,
        `${mib(baseline.heapUsed)} MiB at start, ${rounds.map((r) => mib(r.heapUsed)).join(' → ')} MiB after each round`,
      ],
      [
        `server RSS stops growing (last round ≤ round ${rounds.length > 2 ? 2 : 1} + 32 MiB)`,
        after.rss <= plateau.rss + 32 * MiB,
        `${mib(baseline.rss)} MiB at start, peak ${mib(peakRss)}, ${rounds.map((r) => mib(r.rss)).join(' → ')} MiB after each round`,
      ],
      ['no server error logged', serverErrors === 0, `${serverErrors} error lines`],
    ];
    console.log(
      `\n${served} requests served in ${loadSeconds.toFixed(0)} s of load ` +
        `(${(served / loadSeconds).toFixed(0)}/s; ${elapsed.toFixed(0)} s with settling), ` +
        `${failed} failed, ${interrupted} interrupted by the fault; ${created.size} jobs started, ` +
        `${verification.checked} verified afterwards (${verification.outputBytesChecked} output ` +
        `bytes checked), ${stoppedByCleanup} stopped by the cleanup`,
    );
    for (const [name, passed, detail] of checks) {
      console.log(`${passed ? 'ok  ' : 'FAIL'}  ${name}: ${detail}`);
      if (!passed) exitCode = 1;
    }
    const problems = [...failures, ...verification.lost, ...verification.implausible];
    for (const line of [...problems, ...cgroups].slice(0, 20)) console.log(`  ${line}`);

    const figures = {
      clients: CLIENTS,
      seconds: SECONDS,
      rounds: ROUNDS,
      serverEnv: flags['server-env'],
      elapsedSeconds: elapsed,
      loadSeconds,
      fault: FAULT,
      faultsInjected: FAULT === 'kill' ? 1 : 0,
      outageMs: outageMs ?? null,
      requestsServed: served,
      requestsPerSecond: served / loadSeconds,
      failed,
      interrupted,
      counts: Object.fromEntries(counts),
      latencyMs: Object.fromEntries(
        operations.map((op) => {
          const times = latencies.get(op) ?? [];
          const p = (n: number): number => percentile(times, n);
          return [op, { p50: p(50), p95: p(95), p99: p(99) }];
        }),
      ),
      jobsStarted: created.size,
      jobsVerified: verification.checked,
      outputBytesChecked: verification.outputBytesChecked,
      lost: verification.lost.length,
      implausible: verification.implausible.length,
      stoppedByCleanup,
      zombies: zombies.length,
      supervisorsLeft: supervisors.length,
      cgroupsLeft: cgroups.length,
      server: { baseline, peakRss, afterEachRound: rounds },
      serverErrorLines: serverErrors,
      failures: failures.slice(0, 50),
      checks: checks.map(([name, passed, detail]) => ({ name, passed, detail })),
      passed: exitCode === 0,
    };
    writeFileSync(JSON_OUT, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`\nfigures written to ${JSON_OUT}`);
  } finally {
    process.off('SIGINT', onSignal);
    await target.server.dispose();
    process.exitCode = exitCode;
  }
}

await main().catch((error: unknown) => {
  console.error('load: the run failed:', error);
  process.exitCode = 1;
});
