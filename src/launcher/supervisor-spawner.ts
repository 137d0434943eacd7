// Starts job supervisors through one long-lived helper (native/jobspawner.c) instead of forking
// the server for each: a fork of a 150 MB Node.js process took 2-3 ms of the event loop per job,
// a posix_spawn from the small helper a fraction of that, and none of the event loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LaunchFailedError } from '../errors.ts';

export const SPAWNER_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'build',
  'jobspawner',
);

/** What became of one supervisor: its one-line start report, or none. */
export type SpawnReply =
  | { readonly kind: 'report'; readonly line: string }
  | { readonly kind: 'silent' }
  | { readonly kind: 'not-spawned'; readonly reason: string };

export class SupervisorSpawner {
  readonly #path: string;
  #helper: ChildProcess | undefined;
  readonly #waiting = new Map<string, (reply: SpawnReply | Error) => void>();
  #nextId = 0;
  #closed = false;

  constructor(path = SPAWNER_PATH) {
    if (!existsSync(path)) {
      throw new Error(`job spawner ${path} is missing: run 'npm install' to build it`);
    }
    this.#path = path;
    // Started now, so the first job does not wait for it, and its pipes are there from the start.
    this.#running();
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
    const helper = this.#running();
    const id = String(++this.#nextId);
    const body = Buffer.from([id, ...fields].map((field) => `${field}\0`).join(''));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(body.length);
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, (reply) => (reply instanceof Error ? reject(reply) : resolve(reply)));
      // Keeps the event loop alive while a reply is due, and only then.
      if (this.#waiting.size === 1) pipeOf(helper.stdout).ref();
      helper.stdin?.write(Buffer.concat([length, body]));
    });
  }

  /** Lets the helper exit, and waits for it; supervisors it started run on, no more start. */
  async close(): Promise<void> {
    this.#closed = true;
    const helper = this.#helper;
    this.#helper = undefined;
    if (helper === undefined || helper.exitCode !== null || helper.signalCode !== null) return;
    const closed = once(helper, 'close');
    // Unref'd until now: without this the server could exit before the helper is seen to go.
    helper.ref();
    pipeOf(helper.stdout).ref();
    helper.stdin?.end();
    await closed;
  }

  #running(): ChildProcess {
    if (this.#helper !== undefined) return this.#helper;
    const helper = spawn(this.#path, [], {
      stdio: ['pipe', 'pipe', 'inherit'],
      // Nothing of the server's environment may reach the supervisors it starts.
      env: {},
      cwd: '/',
    });
    this.#helper = helper;
    // Only requests in flight keep the server's event loop alive, through their callers.
    helper.unref();
    const stdin = pipeOf(helper.stdin);
    const stdout = pipeOf(helper.stdout);
    stdin.unref();
    stdout.unref();
    // A write to a helper that just died fails here; its waiters are answered on 'close'.
    stdin.on('error', () => undefined);
    createInterface({ input: stdout }).on('line', (line) => {
      this.#deliver(line);
      if (this.#waiting.size === 0) stdout.unref();
    });
    const abandon = (error: Error): void => {
      if (this.#helper === helper) this.#helper = undefined;
      for (const answer of this.#waiting.values()) answer(error);
      this.#waiting.clear();
    };
    helper.once('error', (error) =>
      abandon(new LaunchFailedError('could not start the job spawner', error)),
    );
    // 'close' comes after the last line of its stdout: every reply it sent is delivered.
    helper.once('close', () =>
      abandon(new LaunchFailedError('the job spawner exited before the supervisor reported')),
    );
    return helper;
  }

  #deliver(line: string): void {
    const space = line.indexOf(' ');
    const id = space < 0 ? line : line.slice(0, space);
    const answer = this.#waiting.get(id);
    if (answer === undefined) return;
    this.#waiting.delete(id);
    answer(parseReply(space < 0 ? undefined : line.slice(space + 1)));
  }
}

function parseReply(text: string | undefined): SpawnReply {
  if (text === undefined) return { kind: 'silent' };
  if (text.startsWith('! ')) return { kind: 'not-spawned', reason: text.slice(2) };
  return { kind: 'report', line: text };
}

/** A piped stdio stream is a net.Socket, which can be unref'd; the child's types do not say so. */
function pipeOf(stream: ChildProcess['stdin'] | ChildProcess['stdout']): Socket {
  if (stream === null) throw new Error('the job spawner has no pipes');
  return stream as Socket;
}
