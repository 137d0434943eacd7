// jobctl's end of an attached job (GET /v1/jobs/{id}/attach): the job's output to stdout and
// stderr, jobctl's stdin to the job's. With a terminal (`-t`), the local terminal is in raw mode
// so every key, Ctrl-C included, reaches the job; it is put back on every way out, the job's
// terminal follows the local window's size, and Ctrl-P Ctrl-Q detaches, as in Docker.
import type { WebSocket } from 'ws';
import { ATTACH_PROTOCOL, CHANNEL, type AttachEnd } from '../contract/attach-channels.ts';
import { DetachKeys } from './detach-keys.ts';
import { CliError } from './errors.ts';
import { EXIT, exitStatusOf } from './exit-status.ts';
import type { ApiClient } from './http-client.ts';
import type { JobRecord } from './job-record.ts';
import { say } from './output.ts';

export type AttachOutcome =
  { readonly kind: 'ended'; readonly end: AttachEnd } | { readonly kind: 'detached' };

export interface AttachOptions {
  /** `start`: all of the job's output; `now`: what comes from now on. */
  readonly from: 'start' | 'now';
  /**
   * Raw mode, window size and detach keys (the local stdin is a terminal, and it is sent to
   * the job's); otherwise Ctrl-C detaches.
   */
  readonly terminal: boolean;
  /** Send jobctl's stdin to the job (a job with an open input); false to only watch. */
  readonly input: boolean;
}

/** How long a detach waits for the server to close the socket before cutting it. */
const DETACH_GRACE_MS = 1000;

/** Input waiting in the socket beyond this pauses jobctl's stdin. */
const HIGH_WATER_BYTES = 1024 * 1024;

export async function attachToJob(
  client: ApiClient,
  jobId: string,
  options: AttachOptions,
): Promise<AttachOutcome> {
  const query = new URLSearchParams({ from: options.from, stdin: String(options.input) });
  const path = `/v1/jobs/${jobId}/attach?${query.toString()}`;
  const socket = await client.webSocket(path, ATTACH_PROTOCOL);
  const session = new LocalSession(socket, options);
  try {
    return await session.outcome;
  } finally {
    session.dispose();
  }
}

/** jobctl's exit status after an attach: the job's own, or 130 when the user detached. */
export async function exitStatusAfter(
  client: ApiClient,
  jobId: string,
  outcome: AttachOutcome,
): Promise<number> {
  if (outcome.kind === 'detached') {
    // After raw mode the cursor may stand anywhere on the line.
    if (process.stderr.isTTY) process.stderr.write('\n');
    say(`detached from job ${jobId}; it keeps running ('jobctl attach ${jobId.slice(0, 8)}')`);
    return EXIT.INTERRUPTED;
  }
  return exitStatusOf(await client.json<JobRecord>('GET', `/v1/jobs/${jobId}`));
}

class LocalSession {
  readonly outcome: Promise<AttachOutcome>;
  readonly #socket: WebSocket;
  readonly #options: AttachOptions;
  readonly #detachKeys = new DetachKeys();
  readonly #cleanups: (() => void)[] = [];
  #end: AttachEnd | undefined;
  #detached = false;

  constructor(socket: WebSocket, options: AttachOptions) {
    this.#socket = socket;
    this.#options = options;
    this.outcome = new Promise((resolve, reject) => {
      socket.once('close', () => {
        if (this.#end !== undefined) resolve({ kind: 'ended', end: this.#end });
        else if (this.#detached) resolve({ kind: 'detached' });
        else reject(new CliError('CONNECTION_FAILED', 'lost the connection to the attached job'));
      });
      socket.once('error', () => undefined);
    });
    socket.on('message', (data: Buffer) => this.#receive(data));
    // A terminal without input would be raw with no way out: it is only watched, Ctrl-C leaves.
    if (options.terminal && options.input) this.#takeTerminal();
    else this.#detachOnInterrupt();
    if (options.input) this.#sendInput();
  }

  dispose(): void {
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
  }

  #receive(message: Buffer): void {
    const channel = message[0];
    const payload = message.subarray(1);
    if (channel === CHANNEL.stdout) this.#write(process.stdout, payload);
    else if (channel === CHANNEL.stderr) this.#write(process.stderr, payload);
    else if (channel === CHANNEL.status)
      this.#end = JSON.parse(payload.toString('utf8')) as AttachEnd;
  }

  #write(to: NodeJS.WriteStream, bytes: Buffer): void {
    if (to.write(bytes)) return;
    this.#socket.pause();
    to.once('drain', () => this.#socket.resume());
  }

  #send(channel: number, payload: Buffer, sent?: () => void): void {
    this.#socket.send(Buffer.concat([Buffer.of(channel), payload]), sent);
  }

  #sendInput(): void {
    const stdin = process.stdin;
    const onData = (chunk: Buffer): void => {
      const { send, detach } = this.#options.terminal
        ? this.#detachKeys.scan(chunk)
        : { send: chunk, detach: false };
      if (this.#detached) return;
      if (send.length > 0) {
        // Past the high-water mark, stdin waits until this piece has gone out.
        const full = this.#socket.bufferedAmount > HIGH_WATER_BYTES;
        this.#send(CHANNEL.stdin, send, full ? () => stdin.resume() : undefined);
        if (full) stdin.pause();
      }
      if (detach) this.#detach();
    };
    const onEnd = (): void => this.#send(CHANNEL.close, Buffer.of(CHANNEL.stdin));
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    this.#cleanups.push(() => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      // jobctl reads no more: its stdin must not keep it alive.
      stdin.destroy();
    });
  }

  /** Raw mode until the session ends (or the process exits any other way), and the size. */
  #takeTerminal(): void {
    const { stdin, stdout } = process;
    const restore = (): void => {
      if (stdin.isTTY) stdin.setRawMode(false);
    };
    stdin.setRawMode(true);
    process.once('exit', restore);
    const sendSize = (): void => {
      if (!(stdout.columns > 0 && stdout.rows > 0)) return;
      const size = { Width: stdout.columns, Height: stdout.rows };
      this.#send(CHANNEL.resize, Buffer.from(JSON.stringify(size)));
    };
    if (stdout.isTTY) {
      sendSize();
      stdout.on('resize', sendSize);
    }
    this.#cleanups.push(() => {
      stdout.off('resize', sendSize);
      process.off('exit', restore);
      restore();
    });
  }

  /** Without a terminal, Ctrl-C is jobctl's: it detaches, the job keeps running. */
  #detachOnInterrupt(): void {
    const onInterrupt = (): void => this.#detach();
    process.on('SIGINT', onInterrupt);
    this.#cleanups.push(() => process.off('SIGINT', onInterrupt));
  }

  #detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#socket.close(1000, 'detached');
    // A server slow to answer the close (its end of the socket paused) does not hold us.
    setTimeout(() => this.#socket.terminate(), DETACH_GRACE_MS).unref();
  }
}
