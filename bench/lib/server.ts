// Starts the project's real server (`node src/server.ts`) for the bench, on a free port with its
// own temporary directories and development PKI, exactly as test/helpers/server.ts does, and hands
// back that helper's TestServer for the requests. Two differences, both so the bench measures the
// server and not itself: the server's log goes to a file rather than being parsed line by line by
// the process that is generating the load, and the server can be started as an unprivileged user,
// which is how the server runs jobs without cgroups, namespaces or a user switch.
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import {
  chownSync,
  closeSync,
  cpSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, TestServer } from '../../test/helpers/server.ts';

export interface BenchServerOptions {
  /** Run as this user and group (the server then has no cgroups and no namespaces). */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** Copy this certs directory instead of generating a new PKI (saves seconds per server). */
  readonly certsFrom?: string;
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
  /** Run the server of another copy of the project (bench/what-if.ts runs patched copies). */
  readonly root?: string;
  /** Fills the data directory before the server starts (bench/scenarios/history.ts). */
  readonly prepare?: (dataDir: string) => void;
}

export interface BenchServer {
  readonly api: TestServer;
  readonly pid: number;
  readonly port: number;
  readonly baseDir: string;
  readonly certsDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** What the server says about itself at start-up: its protections. */
  readonly protections: Record<string, unknown>;
  /** From spawning the server to its 'listening' line (the line's own time), in ms. */
  readonly startupMs: number;
  /** Stops the server (SIGTERM, jobs stopped) and deletes its directories. */
  dispose(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;

export async function startBenchServer(options: BenchServerOptions = {}): Promise<BenchServer> {
  const baseDir = await mkdtemp(join(tmpdir(), 'jobworker-bench-'));
  const certsDir = join(baseDir, 'certs');
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'server.log');
  mkdirSync(dataDir);
  if (options.certsFrom !== undefined) cpSync(options.certsFrom, certsDir, { recursive: true });
  const user = options.user;
  if (user !== undefined) chownTree(baseDir, user.uid, user.gid);

  options.prepare?.(dataDir);
  const logFd = openSync(logFile, 'a', 0o600);
  const spawnedAt = Date.now();
  const root = options.root ?? ROOT;
  const child = spawn(
    process.execPath,
    [join(root, 'src', 'server.ts'), '--port', '0', ...(options.args ?? [])],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: baseDir,
        DATA_DIR: dataDir,
        CERTS_DIR: certsDir,
        SHUTDOWN_POLICY: 'stop',
        STOP_GRACE: '2s',
        LOG_LEVEL: 'info',
        // The bench drives one client far harder than people do: no fairness limits in the way
        // (the follower-storm scenario puts the budgets back to measure them).
        CLIENT_RATE_LIMIT: '100000',
        CLIENT_MAX_RUNNING: '5000',
        CLIENT_FOLLOWERS: '100000',
        CLIENT_CONNECTIONS: '100000',
        CLIENT_OUTPUT: '0',
        // 1 GiB of output must fit in one job; the default cap is exactly 1 GiB.
        MAX_OUTPUT: '4GiB',
        ...options.env,
      },
      stdio: ['ignore', logFd, logFd],
      ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
    },
  );
  closeSync(logFd);
  const exited = once(child, 'exit');
  try {
    const listening = await waitForListening(logFile, () => child.exitCode !== null);
    const api = new TestServer(baseDir, listening.port, child, [], new EventEmitter());
    return {
      api,
      pid: child.pid ?? 0,
      port: listening.port,
      baseDir,
      certsDir,
      dataDir,
      logFile,
      protections: listening.protections,
      startupMs: listening.time - spawnedAt,
      async dispose() {
        await api.stop();
        await exited;
        await rm(baseDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    const log = readFileSync(logFile, 'utf8').slice(-2000);
    await rm(baseDir, { recursive: true, force: true });
    throw new Error(`server did not start: ${(error as Error).message}\n${log}`);
  }
}

async function waitForListening(
  logFile: string,
  hasExited: () => boolean,
): Promise<{ port: number; protections: Record<string, unknown>; time: number }> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < deadline) {
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes('"listening"')) continue;
      const entry = JSON.parse(line) as {
        port: number;
        protections: Record<string, unknown>;
        time: string;
      };
      return {
        port: entry.port,
        protections: entry.protections,
        time: new Date(entry.time).getTime(),
      };
    }
    if (hasExited()) throw new Error('the server exited');
    await sleep(50);
  }
  throw new Error(`no 'listening' line within ${START_TIMEOUT_MS} ms`);
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, uid, gid);
    else chownSync(child, uid, gid);
  }
}
