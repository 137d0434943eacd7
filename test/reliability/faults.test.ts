// Faults a running server must absorb, as clients see them: followers that stop reading a
// stream (no unbounded buffering, no slowdown for others), slowloris clients (cut off by the
// header timeout), and a full data disk (running jobs keep running, new jobs get 507, nothing is
// corrupted, and it recovers when space returns). The server killed with SIGKILL and a job's
// supervisor killed are covered by test/durability/restart.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

/** The server's own settings (src/server.ts); there is no flag to shorten them. */
const HEADERS_TIMEOUT_MS = 10_000;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

/** Median latency in ms of `count` sequential GET /healthz as `client`. */
async function healthLatency(server: TestServer, client: string, count: number): Promise<number> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const started = performance.now();
    const response = await server.request(client, 'GET', '/healthz');
    latencies.push(performance.now() - started);
    assert.equal(response.status, 200);
  }
  return median(latencies);
}

/** A raw TLS connection as `client`, resolved once the handshake is done. */
function rawConnection(server: TestServer, client: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: server.port,
      servername: 'localhost',
      ...server.credentials(client),
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Polls `condition` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

describe('slow and stalled clients', () => {
  let server: TestServer;
  let pid: number;
  let baselineLatency: number;
  before(async () => {
    server = await startServer();
    pid = server.child.pid!;
    await healthLatency(server, 'bob', 20);
    baselineLatency = await healthLatency(server, 'bob', 40);
  });
  after(async () => {
    await server.dispose();
  });

  it(
    'bounds memory and keeps others fast while followers of a 100 MB stream stop reading',
    { timeout: 60_000 },
    async (t) => {
      const outputBytes = 100_000_000;
      const stalledCount = 8;
      const rssBefore = rssBytes(pid);
      const fdsBefore = openFds(pid);
      const job = await server.startJob('alice', {
        command: 'sh',
        args: ['-c', `head -c ${outputBytes} /dev/zero; sleep 60`],
      });
      const path = `/v1/jobs/${job.id}/output?follow=true`;
      // Followers that read the headers and then nothing: half through Node's client (its
      // stream paused), half on raw sockets that never read again (only kernel buffers).
      const stalled: IncomingMessage[] = [];
      const rawStalled: TLSSocket[] = [];
      for (let i = 0; i < stalledCount / 2; i += 1) {
        stalled.push(await server.open('alice', 'GET', path));
        const socket = await rawConnection(server, 'alice');
        socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        socket.once('data', () => socket.pause());
        rawStalled.push(socket);
      }
      // A follower that does read gets everything at full speed meanwhile.
      const reader = await server.open('alice', 'GET', path);
      let read = 0;
      const readAll = new Promise<void>((resolve) => {
        reader.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read >= outputBytes) resolve();
        });
      });
      await readAll;
      reader.destroy();

      const stalledLatency = await healthLatency(server, 'bob', 40);
      const rssDuring = rssBytes(pid);
      t.diagnostic(
        `bob's /healthz p50: ${baselineLatency.toFixed(1)} ms alone, ${stalledLatency.toFixed(1)} ms ` +
          `with ${stalledCount} stalled followers; server RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ` +
          `${(rssDuring / 2 ** 20).toFixed(0)} MiB after streaming ${outputBytes / 1e6} MB to each`,
      );
      assert.ok(
        stalledLatency <= Math.max(5 * baselineLatency, 500),
        `p50 ${stalledLatency} ms vs ${baselineLatency} ms alone`,
      );
      // Less than one copy of the output, where buffering for each stalled follower would take
      // eight; the design is one 64 KiB buffer per reader.
      assert.ok(
        rssDuring - rssBefore < 96 * 2 ** 20,
        `RSS grew by ${(rssDuring - rssBefore) / 2 ** 20} MiB`,
      );

      for (const response of stalled) response.destroy();
      for (const socket of rawStalled) socket.destroy();
      assert.equal((await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`)).status, 202);
      assert.equal((await server.waitForEnd('alice', job.id)).status, 'stopped');
      // Every follower's file handles are released once its client has gone.
      const released = await eventually(() => openFds(pid) <= fdsBefore + 2, 5000);
      assert.ok(released, `server fds: ${fdsBefore} before, ${openFds(pid)} after`);
    },
  );

  describe('slowloris', () => {
    const count = 50;
    const closedAfter: (number | undefined)[] = Array.from({ length: count }, () => undefined);
    let during: number;

    it(
      `keeps serving others while ${count} clients send their headers one byte a second`,
      { timeout: HEADERS_TIMEOUT_MS + 10_000 },
      async (t) => {
        const started = Date.now();
        const request = `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(100)}`;
        const sockets = await Promise.all(
          Array.from({ length: count }, () => rawConnection(server, 'bob')),
        );
        let closed = 0;
        let allClosed: () => void = () => undefined;
        const everyoneClosed = new Promise<void>((resolve) => (allClosed = resolve));
        const timers = sockets.map((socket, i) => {
          let sent = 0;
          socket.on('error', () => undefined);
          // Read what the server says (its 408), or the end of the connection is never seen.
          socket.resume();
          socket.once('close', () => {
            closedAfter[i] = Date.now() - started;
            if (++closed === count) allClosed();
          });
          return setInterval(() => {
            if (!socket.destroyed) socket.write(request[sent++ % request.length]!);
          }, 1000);
        });
        try {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          during = await healthLatency(server, 'alice', 40);
          assert.ok(during <= Math.max(5 * baselineLatency, 500), `p50 ${during} ms`);
          // Wait for the header timeout to pass, with slack for a loaded machine.
          let deadline: NodeJS.Timeout | undefined;
          await Promise.race([
            everyoneClosed,
            new Promise((resolve) => {
              deadline = setTimeout(resolve, HEADERS_TIMEOUT_MS + 3000 - (Date.now() - started));
            }),
          ]);
          clearTimeout(deadline);
        } finally {
          // Closed by us from here on: only what the server closed before counts.
          for (const socket of sockets) socket.removeAllListeners('close');
          for (const timer of timers) clearInterval(timer);
          for (const socket of sockets) socket.destroy();
        }
        const cut = closedAfter.filter((ms) => ms !== undefined && ms <= HEADERS_TIMEOUT_MS + 3000);
        t.diagnostic(
          `others' /healthz p50 ${during.toFixed(1)} ms; ${cut.length}/${count} slow clients cut ` +
            `off within ${HEADERS_TIMEOUT_MS + 3000} ms`,
        );
        assert.equal((await server.request('alice', 'GET', '/healthz')).status, 200);
      },
    );

    it('cuts every slowloris client off within headersTimeout (10 s) plus slack', () => {
      assert.deepEqual(
        closedAfter.filter((ms) => ms === undefined || ms > HEADERS_TIMEOUT_MS + 3000),
        [],
      );
    });
  });
});

describe('a full data disk', () => {
  let baseDir: string;
  let dataDir: string;
  let server: TestServer;
  let mounted = false;
  let filler: string;
  let running: Job;
  let before1: Job;
  /** A job that ends while the disk is full, and its record once space has returned. */
  let ending: Job;
  let endingAfterRecovery: Job;

  before(async () => {
    baseDir = mkdtempSync(join(tmpdir(), 'jobworker-diskfull-'));
    dataDir = join(baseDir, 'data');
    mkdirSync(dataDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dataDir]);
    mounted = true;
    filler = join(dataDir, 'filler');
    // No floor of free space (--min-free-disk): this is the disk filling up all the same.
    server = await startServer({ baseDir, env: { MIN_FREE_DISK: '0' } });
    before1 = await server.waitForEnd(
      'alice',
      (await server.startJob('alice', { command: 'echo', args: ['before'] })).id,
    );
    running = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'],
    });
    await server.waitForOutput('alice', running.id);
    ending = await server.startJob('alice', { command: 'sh', args: ['-c', 'sleep 3; exit 3'] });
  });

  after(async () => {
    await server?.stop();
    if (mounted) {
      try {
        execFileSync('umount', [dataDir]);
      } catch {
        execFileSync('umount', ['-l', dataDir]);
      }
    }
    rmSync(baseDir, { recursive: true, force: true });
  });

  function fillDisk(): number {
    const fd = openSync(filler, 'w');
    let written = 0;
    try {
      for (const size of [64 * 1024, 4096, 512, 1]) {
        const chunk = Buffer.alloc(size);
        try {
          for (;;) written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        }
      }
    } finally {
      closeSync(fd);
    }
    return written;
  }

  it('answers 507 to new jobs while running jobs keep running', { timeout: 30_000 }, async (t) => {
    const filled = fillDisk();
    t.diagnostic(`filled the 4 MiB data disk with ${filled} bytes`);
    for (let i = 0; i < 5; i += 1) {
      const response = await server.request('alice', 'POST', '/v1/jobs', {
        json: { command: 'echo', args: ['while full'] },
      });
      assert.equal(response.status, 507, response.text());
      assert.equal(response.headers['content-type'], 'application/problem+json');
      const problem = response.json();
      assert.equal(problem.code, 'INSUFFICIENT_STORAGE');
      assert.equal(problem.status, 507);
    }
    // Reads still work, and the job started before the disk filled is still running.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(
      (await server.request('alice', 'GET', `/v1/jobs/${running.id}`)).json<Job>().status,
      'running',
    );
    const ticking = execFileSync('ps', ['-eo', 'args']).toString();
    assert.match(ticking, /i=0; while true; do echo tick/);
    const list = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>();
    assert.deepEqual(
      list.jobs.map((job) => job.id).sort(),
      [before1.id, running.id, ending.id].sort(),
    );
    assert.equal((await server.request('bob', 'GET', '/healthz')).status, 200);
    // Its followers are told when it ends, full disk or not.
    await server.waitForEnd('alice', ending.id);
  });

  it('lets a job be stopped while the disk is full', async () => {
    const stop = await server.request('alice', 'POST', `/v1/jobs/${running.id}/stop`);
    assert.ok(stop.status === 202 || stop.status === 507, `stop while full: ${stop.status}`);
  });

  it('recovers when space returns: nothing lost or corrupted, new jobs run', async () => {
    rmSync(filler);
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'echo', args: ['after'] },
    });
    assert.equal(response.status, 201);
    assert.equal(response.text(), 'after\n');
    assert.equal(response.trailers['job-status'], 'exited');
    const list = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>();
    assert.equal(list.jobs.length, 4, 'every job is still listed');
    endingAfterRecovery = list.jobs.find((job) => job.id === ending.id)!;
    const earlier = list.jobs.find((job) => job.id === before1.id);
    assert.deepEqual(earlier, before1, 'the record of a job from before is unchanged');
    const output = await server.request('alice', 'GET', `/v1/jobs/${before1.id}/output`);
    assert.equal(output.text(), 'before\n');
    const ticks = await server.request('alice', 'GET', `/v1/jobs/${running.id}/output`);
    assert.match(ticks.text(), /^tick 0\ntick 1\n/, 'output recorded before the disk filled');
    const stop = await server.request('alice', 'POST', `/v1/jobs/${running.id}/stop`);
    assert.ok([202, 409].includes(stop.status), stop.text());
    await server.stop();
    const db = new DatabaseSync(join(dataDir, 'jobworker.db'), { readOnly: true });
    try {
      const rows = db.prepare('PRAGMA integrity_check').all();
      assert.deepEqual(
        rows.map((row) => row.integrity_check),
        ['ok'],
      );
    } finally {
      db.close();
    }
  });

  it(
    'shows the real outcome of a job that ended while the disk was full, once space returns',
    {
      todo:
        'the end of a job that ends while the disk is full is retried every 5 s until it can be ' +
        'recorded, but jobshim could not write status.json on the full disk either ' +
        '(status.json.tmp is left behind), so the job ends up "lost" and its exit code is gone',
    },
    () => {
      assert.equal(endingAfterRecovery.status, 'exited');
      assert.equal(endingAfterRecovery.exitCode, 3);
    },
  );
});

describe('a SIGKILL while jobs are starting', () => {
  let baseDir: string | undefined;
  let restarted: TestServer | undefined;

  after(async () => {
    await restarted?.stop();
    if (baseDir === undefined) return;
    // Supervisors no server is left to stop, if the restart failed: ours, by their directory.
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        if (argv[0]?.endsWith('/jobshim') && argv.some((arg) => arg.startsWith(baseDir!)))
          process.kill(Number(entry), 'SIGKILL');
      } catch {
        // it ended while we looked
      }
    }
    // ...and their cgroups, which only a server that recovered would have removed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const jobsDir = join(baseDir, 'data', 'jobs');
    for (const id of existsSync(jobsDir) ? readdirSync(jobsDir) : []) {
      for (const hierarchy of ['cpu', 'cpuacct', 'memory', 'pids', 'blkio', 'unified', '']) {
        try {
          rmdirSync(join('/sys/fs/cgroup', hierarchy, 'jobworker', id));
        } catch {
          // not there, or the same hierarchy under another name
        }
      }
    }
    rmSync(baseDir, { recursive: true, force: true });
  });

  it(
    'restarts, and settles the jobs that were still starting',
    {
      timeout: 30_000,
    },
    async () => {
      const server = await startServer();
      baseDir = server.baseDir;
      // Many starts in flight; the crash comes with the first answer, so some are half-way.
      const starts = Array.from({ length: 30 }, () =>
        server.request('alice', 'POST', '/v1/jobs', { json: { command: 'true' } }),
      );
      const accepted: string[] = [];
      await Promise.race(starts);
      await server.stop('SIGKILL');
      for (const outcome of await Promise.allSettled(starts)) {
        if (outcome.status === 'fulfilled' && outcome.value.status === 201)
          accepted.push(outcome.value.json<Job>().id);
      }
      restarted = await startServer({ baseDir });
      const jobs = (await restarted.request('admin', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>()
        .jobs;
      for (const id of accepted)
        assert.ok(
          jobs.some((job) => job.id === id),
          `${id} is kept`,
        );
      // A job whose supervisor the server never spawned is queued again and runs now; every
      // other one is settled as it was found.
      for (const job of jobs) {
        const ended = await restarted.waitForEnd('admin', job.id);
        assert.ok(
          ['exited', 'failed', 'lost'].includes(ended.status),
          `${job.id}: ${ended.status}`,
        );
      }
    },
  );
});
