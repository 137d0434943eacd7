// Durability across server restarts and crashes, as a client sees it: jobs outlive the server,
// followers resume where they left off, outcomes reached while the server was down are kept, and
// broken or foreign on-disk state makes the server fail loudly instead of hanging.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  watch,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { LATEST_SCHEMA_VERSION } from '../../src/store/database.ts';
import {
  inheritedEnv,
  ROOT,
  startServer,
  type Job,
  type ServerOptions,
  type TestServer,
} from '../helpers/server.ts';
import { scaled } from '../helpers/time-scale.ts';

/** Names this run's scratch files in the host's /tmp, which every job shares. */
const TOKEN = randomBytes(6).toString('hex');

/** Host pids whose command line (NUL-separated arguments) satisfies `matches`. */
function processes(matches: (argv: string[]) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (matches(argv)) pids.push(Number(entry));
    } catch {
      // it ended while we looked
    }
  }
  return pids;
}

function parentOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]);
  } catch {
    return undefined;
  }
}

const isShim = (argv: string[]): boolean => argv[0]?.endsWith('/jobshim') === true;

/**
 * The pid of a job's supervisor. With a PID namespace its clone child (the namespace's init)
 * runs without exec, so it has the same command line: the supervisor is the one whose parent is
 * not itself a supervisor of that job.
 */
function supervisorOf(jobId: string): number | undefined {
  const pids = processes((argv) => isShim(argv) && argv.some((arg) => arg.includes(jobId)));
  const roots = pids.filter((pid) => !pids.includes(parentOf(pid) ?? -1));
  assert.ok(roots.length <= 1, `one supervisor for ${jobId}, found ${roots.join(', ')}`);
  return roots[0];
}

/** Resolves once `file` exists, watching its directory rather than polling. */
function whenFileAppears(file: string, dir: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      watcher.close();
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(
      () => finish(new Error(`${file} did not appear within ${timeoutMs} ms`)),
      timeoutMs,
    );
    watcher.on('error', (error) => finish(error));
    // Checked after the watch is armed, so a file that appears in between is not missed.
    const check = (): void => {
      if (existsSync(file)) finish();
    };
    watcher.on('change', check);
    check();
  });
}

/** The pids still alive after waiting (checking every 20 ms) up to `timeoutMs` for all to end. */
async function whenGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids;
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    alive = alive.filter((pid) => existsSync(`/proc/${pid}`) && !isZombie(pid));
  }
  return alive;
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** SIGKILLs the server, as a crash or an OOM kill would, and waits until it has gone. */
async function crash(server: TestServer): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * Reads a response into `sink` until it closes, however it ends. With `pauseAfter`, stops
 * reading once that many bytes have arrived; `paused` then resolves.
 */
function consume(
  response: IncomingMessage,
  sink: (chunk: Buffer) => void,
  pauseAfter = Infinity,
): { paused: Promise<void>; closed: Promise<boolean> } {
  let bytes = 0;
  let onPause!: () => void;
  const paused = new Promise<void>((resolve) => (onPause = resolve));
  const closed = new Promise<boolean>((resolve) =>
    response.once('close', () => resolve(response.complete)),
  );
  // A connection cut by a crash surfaces here; what arrived before it is what counts.
  response.on('error', () => undefined);
  response.on('data', (chunk: Buffer) => {
    sink(chunk);
    bytes += chunk.length;
    if (bytes >= pauseAfter) {
      response.pause();
      onPause();
    }
  });
  // Resolves early if the response ends first, so a caller never waits for bytes that never come.
  return { paused: Promise.race([paused, closed.then(() => undefined)]), closed };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Starts the server with `env` and collects everything it prints until it exits. */
function runUntilExit(
  baseDir: string,
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'src', 'server.ts'), '--port', '0'], {
    cwd: ROOT,
    env: {
      ...inheritedEnv(),
      DATA_DIR: join(baseDir, 'data'),
      CERTS_DIR: join(baseDir, 'certs'),
      SHUTDOWN_POLICY: 'stop',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server was still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

describe('durability across restarts', () => {
  const servers: TestServer[] = [];
  const baseDirs = new Set<string>();

  /** startServer, remembered for cleanup. */
  async function launch(options: ServerOptions = {}): Promise<TestServer> {
    if (options.baseDir !== undefined) baseDirs.add(options.baseDir);
    const server = await startServer(options);
    servers.push(server);
    baseDirs.add(server.baseDir);
    return server;
  }

  after(
    async () => {
      // The live servers stop their jobs (the helper's policy is 'stop') and wait for them.
      for (const server of servers.reverse()) {
        const stopped = server.stop();
        const timer = setTimeout(() => server.child.kill('SIGKILL'), scaled(20_000));
        await stopped;
        clearTimeout(timer);
      }
      // Supervisors no server is left to stop, if a test failed half-way: ours, by pid.
      for (const pid of processes(
        (argv) => isShim(argv) && [...baseDirs].some((dir) => argv.some((a) => a.includes(dir))),
      )) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const dir of baseDirs) await rm(dir, { recursive: true, force: true });
      for (const name of readdirSync('/tmp')) {
        if (name.startsWith(`dur.${TOKEN}.`)) rmSync(join('/tmp', name), { force: true });
      }
    },
    { timeout: scaled(60_000) },
  );

  it(
    'loses no job, exit code or output byte when the server is SIGKILLed under load',
    { timeout: scaled(90_000) },
    async (t) => {
      const total = 20;
      const followed = 5;
      const server = await launch();
      const spec = (i: number): Record<string, unknown> => {
        const file = `/tmp/dur.${TOKEN}.${i}.$$`;
        return {
          command: 'sh',
          args: [
            '-c',
            `sleep 2; head -c 1000000 /dev/urandom > ${file}; cat ${file}; ` +
              `sha256sum < ${file} | cut -d" " -f1 >&2; rm ${file}; exit ${10 + i}`,
          ],
          // All 20 at once within alice's memory total (half the host) on any host: each job
          // reserves its limit, and 20 of the default 512 MiB would pass it below 20 GiB.
          limits: { memory: '64MiB' },
        };
      };
      const jobs = await Promise.all(
        Array.from({ length: total }, (_, i) => server.startJob('alice', spec(i))),
      );
      for (const job of jobs) assert.equal(job.status, 'running');

      // Followers of the first jobs. Each stops reading at a different point, as a slow client
      // would, so the crash lands mid-stream for all of them; what a follower had not read when the
      // connection died is lost with it, and its offset is what it did read.
      const received = jobs.slice(0, followed).map(() => [] as Buffer[]);
      const readers = await Promise.all(
        jobs.slice(0, followed).map(async (job, i) => {
          const response = await server.open(
            'alice',
            'GET',
            `/v1/jobs/${job.id}/output?follow=true&stream=stdout`,
          );
          assert.equal(response.statusCode, 200);
          const enough = 1 + i * 200_000;
          const reader = consume(response, (chunk) => received[i]!.push(chunk), enough);
          return { response, ...reader };
        }),
      );
      await Promise.all(readers.map((reader) => reader.paused));
      await crash(server);
      for (const reader of readers) reader.response.destroy();
      await Promise.all(readers.map((reader) => reader.closed));
      await server.stop(); // releases the dead server's connections
      const offsets = received.map((chunks) => Buffer.concat(chunks).length);
      t.diagnostic(`followers had read ${offsets.join(', ')} bytes at the crash`);
      for (const offset of offsets) assert.ok(offset > 0 && offset < 1_000_000, 'mid-stream');

      const restarted = await launch({ baseDir: server.baseDir });
      await Promise.all(
        jobs.slice(0, followed).map(async (job, i) => {
          const response = await restarted.open(
            'alice',
            'GET',
            `/v1/jobs/${job.id}/output?follow=true&stream=stdout&offset=${offsets[i]}`,
          );
          assert.equal(response.statusCode, 200);
          const { closed } = consume(response, (chunk) => received[i]!.push(chunk));
          assert.equal(await closed, true, `the resumed follower of job ${i} reached the end`);
        }),
      );

      const listed = (await restarted.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>();
      const listedIds = new Set(listed.jobs.map((job) => job.id));
      for (const job of jobs) assert.ok(listedIds.has(job.id), `job ${job.id} is listed`);

      await Promise.all(
        jobs.map(async (job, i) => {
          const ended = await restarted.waitForEnd('alice', job.id);
          assert.equal(ended.status, 'exited', `job ${i}: ${JSON.stringify(ended)}`);
          assert.equal(ended.exitCode, 10 + i);
          assert.equal(ended.error, null);
          assert.equal(ended.outputBytes, 1_000_000 + 65);
          const stderr = await restarted.request(
            'alice',
            'GET',
            `/v1/jobs/${job.id}/output?stream=stderr`,
          );
          const checksum = stderr.text().trim();
          assert.match(checksum, /^[0-9a-f]{64}$/, `job ${i} printed its checksum`);
          const stdout = await restarted.request(
            'alice',
            'GET',
            `/v1/jobs/${job.id}/output?stream=stdout`,
          );
          assert.equal(stdout.body.length, 1_000_000);
          assert.equal(sha256(stdout.body), checksum, `job ${i}: stdout from offset 0`);
          if (i < followed) {
            const followedBytes = Buffer.concat(received[i]!);
            assert.equal(followedBytes.length, 1_000_000, `job ${i}: no gap or duplicate`);
            assert.equal(sha256(followedBytes), checksum, `job ${i}: follower across the crash`);
          }
        }),
      );
    },
  );

  it(
    'records the real exit code of a job that ended while the server was down',
    { timeout: scaled(30_000) },
    async () => {
      const server = await launch();
      const job = await server.startJob('alice', {
        command: 'sh',
        args: ['-c', 'sleep 1; exit 42'],
      });
      assert.equal(job.status, 'running');
      await crash(server);
      await server.stop();
      const dir = join(server.dataDir, 'jobs', job.id);
      await whenFileAppears(join(dir, 'status.json'), dir, scaled(15_000));

      const restarted = await launch({ baseDir: server.baseDir });
      const ended = (await restarted.request('alice', 'GET', `/v1/jobs/${job.id}`)).json<Job>();
      assert.equal(ended.status, 'exited');
      assert.equal(ended.exitCode, 42);
      assert.equal(ended.signal, null);
      assert.equal(ended.error, null);
      assert.ok(Date.parse(ended.endedAt!) >= Date.parse(ended.startedAt!) + 900);
      const follow = await restarted.request(
        'alice',
        'GET',
        `/v1/jobs/${job.id}/output?follow=true`,
      );
      assert.equal(follow.status, 200, 'following an ended job returns at once');
    },
  );

  it(
    'leaves jobs running across a graceful restart with the leave-running policy',
    { timeout: scaled(30_000) },
    async () => {
      const server = await launch({ env: { SHUTDOWN_POLICY: 'leave-running' } });
      const job = await server.startJob('alice', {
        command: 'sh',
        args: ['-c', 'echo up; sleep 600'],
      });
      const output = await server.open('alice', 'GET', `/v1/jobs/${job.id}/output?follow=true`);
      await consume(output, () => undefined, 1).paused;
      output.destroy();
      const supervisor = supervisorOf(job.id);
      assert.ok(supervisor !== undefined, 'the job has a supervisor');

      await server.stop('SIGTERM');
      assert.equal(server.child.exitCode, 0, 'a graceful stop exits 0');
      assert.ok(server.logs.some((entry) => entry.msg === 'stopped'));
      assert.equal(supervisorOf(job.id), supervisor, 'the supervisor outlived the server');
      assert.ok(!existsSync(join(server.dataDir, 'jobs', job.id, 'status.json')), 'job not ended');

      const restarted = await launch({ baseDir: server.baseDir });
      const reattached = (
        await restarted.request('alice', 'GET', `/v1/jobs/${job.id}`)
      ).json<Job>();
      assert.equal(reattached.status, 'running');
      assert.equal(reattached.startedAt, job.startedAt, 'its start time is kept');
      assert.ok(
        restarted.logs.some(
          (entry) => entry.msg === 'job re-attached after restart' && entry.jobId === job.id,
        ),
      );
      const stop = await restarted.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
      assert.equal(stop.status, 202);
      const ended = await restarted.waitForEnd('alice', job.id);
      assert.equal(ended.status, 'stopped');
      assert.equal(ended.signal, 'SIGTERM');
      const all = await restarted.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
      assert.equal(all.text(), 'up\n');
      assert.deepEqual(await whenGone([supervisor], 5000), [], 'the supervisor exited');
    },
  );

  it(
    'answers 410 OUTPUT_UNAVAILABLE for missing output files and keeps serving',
    { timeout: scaled(30_000) },
    async () => {
      const server = await launch();
      const run = async (): Promise<Job> => {
        const job = await server.startJob('alice', {
          command: 'sh',
          args: ['-c', 'echo out; echo err >&2'],
        });
        return server.waitForEnd('alice', job.id);
      };
      const [noLog, noIndex, truncated, intact] = await Promise.all([run(), run(), run(), run()]);
      const jobDir = (job: Job): string => join(server.dataDir, 'jobs', job.id);
      unlinkSync(join(jobDir(noLog), 'output.log'));
      unlinkSync(join(jobDir(noIndex), 'output.idx'));
      truncateSync(join(jobDir(truncated), 'output.log'), 2);

      const gone = async (job: Job, query: string): Promise<void> => {
        const response = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output${query}`);
        assert.equal(response.status, 410, `${query}: ${response.text()}`);
        assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
        const problem = response.json();
        assert.equal(problem.code, 'OUTPUT_UNAVAILABLE');
        assert.equal(problem.status, 410);
        assert.match(String(problem.detail), new RegExp(job.id));
      };
      for (const query of ['', '?stream=stdout', '?stream=stderr', '?follow=true', '?offset=3']) {
        await gone(noLog, query);
        await gone(noIndex, query);
      }

      // A truncated log is served as far as it goes, and the read ends instead of waiting.
      const short = await server.request(
        'alice',
        'GET',
        `/v1/jobs/${truncated.id}/output?follow=true`,
      );
      assert.equal(short.status, 200);
      assert.equal(short.body.length, 2);
      const shortStdout = await server.request(
        'alice',
        'GET',
        `/v1/jobs/${truncated.id}/output?stream=stdout&follow=true`,
      );
      assert.equal(shortStdout.status, 200);
      assert.equal(shortStdout.text(), 'ou');

      // The records and everything else are untouched.
      assert.equal((await server.request('alice', 'GET', `/v1/jobs/${noLog.id}`)).status, 200);
      const stdout = await server.request(
        'alice',
        'GET',
        `/v1/jobs/${intact.id}/output?stream=stdout`,
      );
      assert.equal(stdout.text(), 'out\n');
      assert.equal((await server.request('bob', 'GET', '/healthz')).status, 200);
      const next = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
        json: { command: 'echo', args: ['still serving'] },
      });
      assert.equal(next.text(), 'still serving\n');
      assert.equal(server.child.exitCode, null, 'the server is still running');
      assert.equal((await server.request('alice', 'DELETE', `/v1/jobs/${noLog.id}`)).status, 204);
    },
  );

  it(
    'settles a job recorded just before a crash, before its files were made, as lost with empty output',
    { timeout: scaled(30_000) },
    async () => {
      const server = await launch();
      const job = await server.startJob('alice', { command: 'true' });
      await server.waitForEnd('alice', job.id);
      await crash(server);
      // As if the server had died right after recording the job: no files, no supervisor.
      const db = new DatabaseSync(join(server.dataDir, 'jobworker.db'));
      db.prepare("UPDATE jobs SET status = 'starting', ended_at = NULL WHERE id = ?").run(job.id);
      db.close();
      rmSync(join(server.dataDir, 'jobs', job.id), { recursive: true, force: true });

      const restarted = await launch({ baseDir: server.baseDir });
      const ended = await restarted.waitForEnd('alice', job.id);
      assert.equal(ended.status, 'lost');
      assert.match(String(ended.error), /never started/);
      const output = await restarted.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
      assert.equal(output.status, 200, output.text());
      assert.equal(output.text(), '');
    },
  );

  it(
    'refuses to start on a database schema newer than it knows, then starts once restored',
    { timeout: scaled(60_000) },
    async () => {
      const server = await launch();
      const done = await server.startJob('alice', { command: 'sh', args: ['-c', 'exit 5'] });
      await server.waitForEnd('alice', done.id);
      // A command that cannot run is refused now (422); a timed-out job ends without an exit.
      const failed = await server.startJob('bob', {
        command: 'sleep',
        args: ['10'],
        timeout: '0.2s',
      });
      await server.waitForEnd('bob', failed.id);
      const before = (await server.request('admin', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>()
        .jobs;
      assert.equal(before.length, 2);
      await server.stop();
      assert.equal(server.child.exitCode, 0);

      const dbPath = join(server.dataDir, 'jobworker.db');
      const setVersion = (version: number): void => {
        const db = new DatabaseSync(dbPath);
        try {
          const current = db.prepare('PRAGMA user_version').get() as { user_version: number };
          assert.equal(current.user_version, version === 99 ? LATEST_SCHEMA_VERSION : 99);
          db.exec(`PRAGMA user_version = ${version}`);
        } finally {
          db.close();
        }
      };
      setVersion(99);

      await assert.rejects(
        launch({ baseDir: server.baseDir }),
        /server exited \(1\) before listening/,
      );
      const run = await runUntilExit(server.baseDir, scaled(15_000));
      assert.equal(run.signal, null);
      assert.equal(run.code, 1, 'exits with a failure code rather than hanging');
      const printed = run.stdout + run.stderr;
      assert.match(
        printed,
        new RegExp(
          `database schema version 99 is newer than this server knows \\(${LATEST_SCHEMA_VERSION}\\)`,
        ),
      );
      const fatal = run.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { code?: string } });
      assert.equal(fatal.filter((entry) => entry.level === 60).length, 1, 'one fatal line');
      assert.equal(fatal.find((entry) => entry.level === 60)?.err?.code, 'SCHEMA_TOO_NEW');
      assert.ok(!fatal.some((entry) => entry.msg === 'listening'));

      setVersion(LATEST_SCHEMA_VERSION);
      const restored = await launch({ baseDir: server.baseDir });
      const afterRestore = (await restored.request('admin', 'GET', '/v1/jobs')).json<{
        jobs: Job[];
      }>().jobs;
      assert.deepEqual(afterRestore, before);
      assert.equal(afterRestore.find((job) => job.id === done.id)?.exitCode, 5);
      assert.equal(afterRestore.find((job) => job.id === failed.id)?.status, 'timedout');
      const output = await restored.request('alice', 'POST', '/v1/jobs?follow=true', {
        json: { command: 'echo', args: ['back'] },
      });
      assert.equal(output.text(), 'back\n');
    },
  );

  it(
    'reports a job whose supervisor was SIGKILLed as lost, live or across a restart',
    { timeout: scaled(30_000) },
    async () => {
      const server = await launch();
      const marker = `600.${Date.now() % 100_000}`;
      const start = async (): Promise<{ job: Job; supervisor: number }> => {
        const job = await server.startJob('alice', {
          command: 'sh',
          args: ['-c', `echo up; sleep ${marker}`],
        });
        const output = await server.open('alice', 'GET', `/v1/jobs/${job.id}/output?follow=true`);
        await consume(output, () => undefined, 1).paused;
        output.destroy();
        const supervisor = supervisorOf(job.id);
        assert.ok(supervisor !== undefined, `job ${job.id} has a supervisor`);
        return { job, supervisor };
      };
      const live = await start();
      const whileDown = await start();

      // Killed while the server watches: a follower ends and the job is lost.
      const sleepers = processes((argv) => argv[0] === 'sleep' && argv[1] === marker);
      assert.equal(sleepers.length, 2, 'both jobs are running');
      const follower = await server.open(
        'alice',
        'GET',
        `/v1/jobs/${live.job.id}/output?follow=true`,
      );
      const { closed } = consume(follower, () => undefined);
      process.kill(live.supervisor, 'SIGKILL');
      assert.equal(await closed, true, 'the follower ended cleanly');
      const lost = (await server.request('alice', 'GET', `/v1/jobs/${live.job.id}`)).json<Job>();
      assert.equal(lost.status, 'lost');
      assert.match(lost.error ?? '', /supervisor/);
      assert.equal(lost.exitCode, null);
      assert.notEqual(lost.endedAt, null);
      const stop = await server.request('alice', 'POST', `/v1/jobs/${live.job.id}/stop`);
      assert.equal(stop.status, 409);

      // Killed while the server is down: found lost at the restart.
      await crash(server);
      await server.stop();
      process.kill(whileDown.supervisor, 'SIGKILL');
      assert.deepEqual(await whenGone([whileDown.supervisor], 5000), []);
      const restarted = await launch({ baseDir: server.baseDir });
      const found = (
        await restarted.request('alice', 'GET', `/v1/jobs/${whileDown.job.id}`)
      ).json<Job>();
      assert.equal(found.status, 'lost');
      assert.match(found.error ?? '', /supervisor/);
      const output = await restarted.request(
        'alice',
        'GET',
        `/v1/jobs/${whileDown.job.id}/output?follow=true`,
      );
      assert.equal(output.text(), 'up\n', 'its output so far is kept');

      // The jobs themselves died with their supervisors (their init has PR_SET_PDEATHSIG).
      assert.deepEqual(
        await whenGone(sleepers, 5000),
        [],
        'no job process outlived its supervisor',
      );
      assert.equal((await restarted.request('bob', 'GET', '/healthz')).status, 200);
    },
  );
});
