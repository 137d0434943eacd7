// Starts job supervisors through one long-lived helper (native/jobspawner.c) instead of forking
// the server for each: a fork of a 150 MB Node.js process took 2-3 ms of the event loop per job,
// a posix_spawn from the small helper a fraction of that, and none of the event loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { LaunchFailedError } from '../errors.ts';
import { SPAWNER_PATH } from './built-programs.ts';

/** What became of one supervisor: its one-line start report, or none. */
export type SpawnReply =
  | { readonly kind: 'report'; readonly line: string }
  | { readonly kind: 'silent' }
  | { readonly kind: 'not-spawned'; readonly reason: string };

/** At shutdown, how long the helper may take to relay the reports it still owes. */
const CLOSE_GRACE_MS = 10_000;

type Answer = (reply: SpawnReply | Error) => void;

/** One run of the helper, and the replies it owes: a helper that dies answers only for its own. */
interface Helper {
  readonly process: ChildProcess;
  readonly stdin: Socket;
  readonly stdout: Socket;
  readonly waiting: Map<string, Answer>;
  /** Settles once it has exited and its stdout has closed: every reply it sent is delivered. */
  readonly closed: Promise<void>;
}

export class SupervisorSpawner {
  readonly #path: string;
  #helper: Helper | undefined;
  #nextId = 0;
  #closed = false;

  constructor(path = SPAWNER_PATH) {
    if (!existsSync(path)) {
      throw new Error(`job spawner ${path} is missing: run 'npm install' to build it`);
    }
    this.#path = path;
    // Started now, so the first job does not wait for it; a failure here is retried by it.
    try {
      this.#running();
    } catch {
      // the next spawn() starts one, or says why it cannot
    }
  }

  /**
   * Spawns `argv` in its own session, its stderr appended to `logPath` (which must exist), and
   * resolves with what it reported on its stdout.
   */
  spawn(argv: readonly string[], logPath: string): Promise<SpawnReply> {
    const fields = [logPath, ...argv];
    if (this.#closed) return Promise.reject(new LaunchFailedError('the server is shutting down'));
    if (fields.some((field) => field.includes('\0')))
      return Promise.reject(new LaunchFailedError('a supervisor argument contains a NUL byte'));
    let helper: Helper;
    try {
      helper = this.#running();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const id = String(++this.#nextId);
    const body = Buffer.from([id, ...fields].map((field) => `${field}\0`).join(''));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(body.length);
    return new Promise((resolve, reject) => {
      helper.waiting.set(id, (reply) => (reply instanceof Error ? reject(reply) : resolve(reply)));
      // Keeps the event loop alive while a reply is due, and only then.
      if (helper.waiting.size === 1) helper.stdout.ref();
      helper.stdin.write(Buffer.concat([length, body]));
    });
  }

  /**
   * Lets the helper exit once it has relayed the reports it owes, and waits for that; the
   * supervisors it started run on, and no more start.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const helper = this.#helper;
    this.#helper = undefined;
    if (helper === undefined) return;
    const child = helper.process;
    // Unref'd until now: without this the server could exit before the helper is seen to go.
    child.ref();
    helper.stdout.ref();
    helper.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
    try {
      await helper.closed;
    } finally {
      clearTimeout(timer);
    }
  }

  #running(): Helper {
    if (this.#helper !== undefined) return this.#helper;
    const child = spawn(this.#path, [], {
      stdio: ['pipe', 'pipe', 'inherit'],
      // Nothing of the server's environment may reach the supervisors it starts.
      env: {},
      cwd: '/',
      // Its own process group: a Ctrl-C or hang-up meant for the server does not reach it.
      detached: true,
    });
    const waiting = new Map<string, Answer>();
    const abandon = (error: Error): void => {
      if (this.#helper?.process === child) this.#helper = undefined;
      for (const answer of waiting.values()) answer(error);
      waiting.clear();
    };
    // 'close' comes after the last line of its stdout: every reply it sent is delivered. A
    // helper that could not be spawned at all has nothing to close.
    const closed = new Promise<void>((resolve) => {
      child.once('close', () => {
        abandon(new LaunchFailedError('the job spawner exited before the supervisor reported'));
        resolve();
      });
      // Listened to before anything can throw: an 'error' nobody hears would end the server.
      child.on('error', (error) => {
        abandon(new LaunchFailedError('could not start the job spawner', error));
        if (child.pid === undefined) resolve();
      });
    });
    const { stdin, stdout } = child;
    if (stdin === null || stdout === null)
      throw new LaunchFailedError('could not start the job spawner: it has no pipes');
    const helper: Helper = {
      process: child,
      // Piped stdio streams are net.Sockets, which can be unref'd; the child's types say less.
      stdin: stdin as Socket,
      stdout: stdout as Socket,
      waiting,
      closed,
    };
    // Only requests in flight keep the server's event loop alive, through their callers.
    child.unref();
    helper.stdin.unref();
    helper.stdout.unref();
    // A write to a helper that just died fails here; its waiters are answered on 'close'.
    helper.stdin.on('error', () => undefined);
    createInterface({ input: helper.stdout }).on('line', (line) => {
      deliver(waiting, line);
      if (waiting.size === 0) helper.stdout.unref();
    });
    this.#helper = helper;
    return helper;
  }
}

function deliver(waiting: Map<string, Answer>, line: string): void {
  const space = line.indexOf(' ');
  const id = space < 0 ? line : line.slice(0, space);
  const answer = waiting.get(id);
  if (answer === undefined) return;
  waiting.delete(id);
  answer(parseReply(space < 0 ? undefined : line.slice(space + 1)));
}

function parseReply(text: string | undefined): SpawnReply {
  if (text === undefined) return { kind: 'silent' };
  if (text.startsWith('! ')) return { kind: 'not-spawned', reason: text.slice(2) };
  return { kind: 'report', line: text };
}
