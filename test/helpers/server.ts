// Starts the real server (`node src/server.ts`) as a child process on a free port, with its own
// temporary data and certs directories, and talks to it over real mutual TLS as any of the
// development clients. Every test that needs the API goes through this.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Job } from '../../src/jobs/job.ts';
import { unmountVolumes } from './volume-mounts.ts';

export const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
export const CLIENTS = ['admin', 'alice', 'bob', 'auditor'] as const;
export type ClientName = (typeof CLIENTS)[number];

/**
 * What every Node process a test starts with an environment of its own keeps from the test's:
 * the PATH, and Node's compile cache where the run turns it on (the cgroup v2 guest does), so
 * the servers the suites start do not each strip the same TypeScript again: half of a server's
 * start under the guest's emulation. `npm test` leaves it off: a server started from the cache
 * starts leaner, and the tests that bound a server's RSS growth are calibrated without it.
 */
export function inheritedEnv(): Record<string, string> {
  const { NODE_COMPILE_CACHE: cache, NODE_COMPILE_CACHE_PORTABLE: portable } = process.env;
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...(cache === undefined ? {} : { NODE_COMPILE_CACHE: cache }),
    ...(portable === undefined ? {} : { NODE_COMPILE_CACHE_PORTABLE: portable }),
  };
}

export interface ServerOptions {
  /** Reuse directories (for restart tests); new temporary ones otherwise. */
  readonly baseDir?: string;
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
}

export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly trailers: NodeJS.Dict<string>;
  readonly body: Buffer;
  json<T = Record<string, unknown>>(): T;
  text(): string;
}

export class TestServer {
  readonly baseDir: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly #agents = new Map<string, Agent>();
  readonly #exited: Promise<void>;
  readonly #logLines: EventEmitter;

  constructor(
    baseDir: string,
    port: number,
    child: ChildProcess,
    logs: Record<string, unknown>[],
    logLines: EventEmitter,
  ) {
    this.baseDir = baseDir;
    this.port = port;
    this.child = child;
    this.logs = logs;
    this.#logLines = logLines;
    this.#exited =
      child.exitCode !== null ? Promise.resolve() : once(child, 'exit').then(() => undefined);
  }

  get certsDir(): string {
    return join(this.baseDir, 'certs');
  }

  get dataDir(): string {
    return join(this.baseDir, 'data');
  }

  /** TLS material of a development client: what curl gets with --cert/--key/--cacert. */
  credentials(name: string): { ca: Buffer; cert: Buffer; key: Buffer } {
    return {
      ca: readFileSync(join(this.certsDir, 'ca.pem')),
      cert: readFileSync(join(this.certsDir, 'clients', name, 'cert.pem')),
      key: readFileSync(join(this.certsDir, 'clients', name, 'key.pem')),
    };
  }

  agent(name: string): Agent {
    let agent = this.#agents.get(name);
    if (agent === undefined) {
      agent = new Agent({ ...this.credentials(name), keepAlive: true, servername: 'localhost' });
      this.#agents.set(name, agent);
    }
    return agent;
  }

  /** Opens a request and resolves with the response as soon as its headers arrive. */
  open(
    client: string,
    method: string,
    path: string,
    options: { json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = { ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    const send = (retry: boolean): Promise<IncomingMessage> =>
      new Promise((resolvePromise, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: this.port, method, path, headers, agent: this.agent(client) },
          resolvePromise,
        );
        req.once('error', (error: NodeJS.ErrnoException) => {
          // A kept-alive connection the server closed as it was reused: an idempotent request
          // is sent again, once, on a new one (as Node's documentation advises for reusedSocket).
          if (retry && req.reusedSocket && error.code === 'ECONNRESET' && method === 'GET')
            resolvePromise(send(false));
          else reject(error);
        });
        req.end(body);
      });
    return send(true);
  }

  async request(
    client: string,
    method: string,
    path: string,
    options: { json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const response = await this.open(client, method, path, options);
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    return {
      status: response.statusCode ?? 0,
      headers: response.headers,
      trailers: response.trailers,
      body,
      json: <T>() => JSON.parse(body.toString('utf8')) as T,
      text: () => body.toString('utf8'),
    };
  }

  /** Starts a job and returns its JSON. */
  async startJob(client: string, spec: Record<string, unknown>): Promise<Job> {
    const response = await this.request(client, 'POST', '/v1/jobs', { json: spec });
    if (response.status !== 201)
      throw new Error(`start job: ${response.status} ${response.text()}`);
    return response.json<Job>();
  }

  /** Waits, by following its output to the end, until a job has ended; returns its record. */
  async waitForEnd(client: string, id: string): Promise<Job> {
    const response = await this.request(client, 'GET', `/v1/jobs/${id}/output?follow=true`);
    if (response.status !== 200)
      throw new Error(`follow job: ${response.status} ${response.text()}`);
    return (await this.request(client, 'GET', `/v1/jobs/${id}`)).json<Job>();
  }

  /**
   * Resolves once a job has written its first output: tests use it to know the job got going.
   * The rest of the output is drained in the background so the follower never holds the job up.
   */
  async waitForOutput(client: string, id: string): Promise<void> {
    const output = await this.open(client, 'GET', `/v1/jobs/${id}/output?follow=true`);
    await new Promise<void>((resolve) => output.once('data', () => resolve()));
    output.resume();
  }

  /**
   * The log lines since `since`, once the lines of every request answered before this call are
   * among them: the server logs a request when its answer is sent, so a request of its own is
   * made, and waited for, as a marker that is left out.
   */
  async logsSettled(since: number): Promise<Record<string, unknown>[]> {
    const marker = (await this.request('alice', 'GET', '/healthz')).headers['x-request-id'];
    await this.waitForLog((entry) => entry.requestId === marker, since);
    return this.logs.slice(since).filter((entry) => entry.requestId !== marker);
  }

  /**
   * Resolves with the first log entry from index `since` on that matches: take `since` from
   * `logs.length` before the action whose log line is awaited, so no line is missed.
   */
  waitForLog(
    matches: (entry: Record<string, unknown>) => boolean,
    since: number,
  ): Promise<Record<string, unknown>> {
    const earlier = this.logs.slice(since).find(matches);
    if (earlier !== undefined) return Promise.resolve(earlier);
    return new Promise((resolvePromise) => {
      const onLine = (entry: Record<string, unknown>): void => {
        if (!matches(entry)) return;
        this.#logLines.off('line', onLine);
        resolvePromise(entry);
      };
      this.#logLines.on('line', onLine);
    });
  }

  /** Graceful stop with SIGTERM (or another signal); resolves when the process has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.#exited;
  }

  /** Stops the server and deletes its directories. */
  async dispose(): Promise<void> {
    await this.stop();
    await unmountVolumes(this.dataDir);
    await rm(this.baseDir, { recursive: true, force: true });
  }
}

/** A job as the API answers it: the wire type, from the schema the document is made of. */
export type { Job };

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const baseDir = options.baseDir ?? (await mkdtemp(join(tmpdir(), 'jobworker-test-')));
  const child = spawn(
    process.execPath,
    [join(ROOT, 'src', 'server.ts'), '--port', '0', ...(options.args ?? [])],
    {
      cwd: ROOT,
      env: {
        ...inheritedEnv(),
        DATA_DIR: join(baseDir, 'data'),
        CERTS_DIR: join(baseDir, 'certs'),
        SHUTDOWN_POLICY: 'stop',
        STOP_GRACE: '2s',
        LOG_LEVEL: 'info',
        // Tests drive single clients much harder than people do; fairness tests set their own.
        CLIENT_RATE_LIMIT: '100000',
        CLIENT_MAX_RUNNING: '5000',
        // The 1 GiB floor of free disk would stop a gigabyte of output on a small test disk
        // (the cgroup v2 guest's has 1.9 GiB); the floor's own tests set theirs.
        MIN_FREE_DISK: '64MiB',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const logLines = new EventEmitter();
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolvePort, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      reject(
        new Error(
          `server exited (${code ?? signal}) before listening: ${stderr.join('')}` +
            logs.map((entry) => String(entry.msg)).join('; '),
        ),
      );
    child.once('exit', onExit);
    lines.on('line', (line) => {
      // For runs whose output is all one sees (the cgroup v2 guest): every server's log, kept.
      if (process.env.JOBWORKER_TEST_SERVER_LOG !== undefined)
        appendFileSync(process.env.JOBWORKER_TEST_SERVER_LOG, `${line}\n`);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      logLines.emit('line', entry);
      if (entry.msg === 'listening') {
        child.off('exit', onExit);
        resolvePort(Number(entry.port));
      }
    });
  });
  return new TestServer(baseDir, port, child, logs, logLines);
}

/**
 * What curl gets for GET /healthz presenting the given certificate files: the HTTP status, or
 * 'refused' when the TLS handshake fails. As an operator would check a certificate by hand.
 */
export async function healthzWith(
  port: number,
  files: { ca: string; cert: string; key: string },
): Promise<string> {
  const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', files.ca];
  args.push('--cert', files.cert, '--key', files.key, `https://localhost:${port}/healthz`);
  return promisify(execFile)('curl', args).then(
    ({ stdout }) => stdout,
    () => 'refused',
  );
}
