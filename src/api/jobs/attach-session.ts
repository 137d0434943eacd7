// One attached client of a job, over a WebSocket in the channels of contract/attach-channels.ts
// (kubectl's `v5.channel.k8s.io`). Output flows at the pace the client reads it, input at the
// pace the job reads it, stdout and stderr in the order the job wrote them. A client that goes away
// (or stops answering pings) leaves the job running and its input open.
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import { z } from 'zod';
import { CHANNEL, type AttachEnd } from '../../contract/attach-channels.ts';
import type { Job, TerminalSize } from '../../jobs/job.ts';
import type { OutputChunk, OutputChunkStream } from '../../worker/output-stream.ts';
import type { JobInput } from '../../worker/registry.ts';

/** Output waiting in the socket beyond this pauses the job's output. */
const HIGH_WATER_BYTES = 1024 * 1024;

/** A terminal's output is all stdout in the job's output index, so it all goes on channel 1. */
const CHANNEL_OF = { stdout: CHANNEL.stdout, stderr: CHANNEL.stderr } as const;

const resizeMessage = z.object({
  Width: z.int().min(1).max(1000),
  Height: z.int().min(1).max(1000),
});

export interface AttachSession {
  readonly socket: WebSocket;
  readonly job: Job;
  /** Undefined when the session does not hold the job's input: what comes on 0 is dropped. */
  readonly input: JobInput | undefined;
  /** The job's output from where the client asked, both streams in the order written. */
  readonly output: OutputChunkStream;
  /**
   * Resizes the job's terminal; undefined for a session that only watches (a resize is a write:
   * the job gets SIGWINCH), so what comes on the resize channel is dropped.
   */
  readonly resize: ((size: TerminalSize) => Promise<void>) | undefined;
  /** The job's final record, once it has ended. */
  ended(): Promise<Job>;
  /** A ping this often; a client that has not answered the last one is cut off. */
  readonly pingIntervalMs: number;
  readonly log: Logger;
}

export function runAttachSession(session: AttachSession): Promise<void> {
  const { socket } = session;
  const input = session.input === undefined ? undefined : new InputChannel(session.input, socket);
  const terminal =
    session.job.tty === null || session.resize === undefined
      ? undefined
      : new TerminalSizer(session.resize, session.log);
  const output = forwardOutput(session);
  const stopPinging = keepAlive(socket, session.pingIntervalMs);
  socket.on('message', (data: RawData, isBinary: boolean) => {
    const message = toBuffer(data);
    if (!isBinary || message.length === 0) return;
    const channel = message[0];
    const payload = message.subarray(1);
    // Keys typed after a resize reach the job after it: `stty size` then shows the new size.
    const inOrder = (apply: () => void): void =>
      terminal === undefined ? apply() : terminal.afterResizes(apply);
    if (channel === CHANNEL.stdin) inOrder(() => input?.write(payload));
    else if (channel === CHANNEL.close && payload[0] === CHANNEL.stdin) {
      inOrder(() => input?.end(session.log));
    } else if (channel === CHANNEL.resize) terminal?.resize(payload);
  });
  return new Promise((resolve) => {
    socket.once('close', () => {
      stopPinging();
      session.output.destroy();
      input?.leaveOpen();
      resolve();
    });
    output.then(
      () => reportEnd(session),
      (error: unknown) => {
        session.log.warn({ err: error }, 'attach: output failed');
        socket.close(1011, 'output failed');
      },
    );
  });
}

/** Once the job's output has ended: how the job ended, then the close. */
async function reportEnd(session: AttachSession): Promise<void> {
  const { socket } = session;
  // Output ends early when the client went away: nobody to tell, and nothing to wait for.
  if (socket.readyState !== WebSocket.OPEN) return;
  const job = await session.ended();
  if (socket.readyState !== WebSocket.OPEN) return;
  const end: AttachEnd = { status: job.status, exitCode: job.exitCode, signal: job.signal };
  socket.send(frame(CHANNEL.status, Buffer.from(JSON.stringify(end))));
  socket.close(1000, 'the job has ended');
}

/** Pings the client; one that has not answered since the last ping is terminated. */
function keepAlive(socket: WebSocket, intervalMs: number): () => void {
  let answered = true;
  socket.on('pong', () => {
    answered = true;
  });
  const timer = setInterval(() => {
    if (!answered) {
      socket.terminate();
      return;
    }
    answered = false;
    socket.ping();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Copies the job's output to the client, each piece on its stream's channel: one reader, so the
 * messages keep the order the job wrote in. It pauses while the client lags.
 */
function forwardOutput(session: AttachSession): Promise<void> {
  const { socket, output } = session;
  const resume = (): void => {
    if (socket.bufferedAmount > HIGH_WATER_BYTES / 2) return;
    output.resume();
  };
  return new Promise<void>((resolve, reject) => {
    output.on('data', (chunk: OutputChunk) => {
      socket.send(frame(CHANNEL_OF[chunk.stream], chunk.bytes), resume);
      if (socket.bufferedAmount > HIGH_WATER_BYTES) output.pause();
    });
    output.once('end', resolve);
    output.once('error', reject);
    output.once('close', resolve);
  });
}

/** The job's input: written as the job takes it, the socket paused meanwhile. */
class InputChannel {
  readonly #input: JobInput;
  readonly #socket: WebSocket;
  /** The job no longer reads (or its input was ended): what comes is dropped. */
  #closed = false;
  #waitingForDrain = false;

  constructor(input: JobInput, socket: WebSocket) {
    this.#input = input;
    this.#socket = socket;
    // EPIPE: the job closed its input or ended. Not the session's end: output still comes.
    input.stream.on('error', () => this.#stopTaking());
    input.stream.on('drain', () => this.#resume());
  }

  write(bytes: Buffer): void {
    if (this.#closed) return;
    if (!this.#input.stream.write(bytes) && !this.#waitingForDrain) {
      this.#waitingForDrain = true;
      this.#socket.pause();
    }
  }

  end(log: Logger): void {
    if (this.#closed) return;
    this.#stopTaking();
    const { stream } = this.#input;
    stream.end(() => {
      this.#input.end().then(
        () => stream.destroy(),
        (error: unknown) => log.warn({ err: error }, 'attach: could not end the input'),
      );
    });
  }

  /** The client went away: its writer goes, the job's input stays open for the next. */
  leaveOpen(): void {
    if (!this.#closed) this.#input.stream.destroy();
  }

  /** No more input is taken; the socket must still be read (its close frame, resizes). */
  #stopTaking(): void {
    this.#closed = true;
    this.#resume();
  }

  #resume(): void {
    if (!this.#waitingForDrain) return;
    this.#waitingForDrain = false;
    this.#socket.resume();
  }
}

/**
 * Resizes of the job's terminal, one at a time: a burst leaves only its last size to apply.
 * What the client sent after a resize waits for it (`afterResizes`), so the two keep their order.
 */
class TerminalSizer {
  readonly #resize: (size: TerminalSize) => Promise<void>;
  readonly #log: Logger;
  #next: TerminalSize | undefined;
  #applying = false;
  readonly #waiting: (() => void)[] = [];

  constructor(resize: (size: TerminalSize) => Promise<void>, log: Logger) {
    this.#resize = resize;
    this.#log = log;
  }

  resize(payload: Buffer): void {
    const parsed = parseResize(payload);
    if (parsed === undefined) return;
    this.#next = parsed;
    if (!this.#applying) void this.#apply();
  }

  afterResizes(apply: () => void): void {
    if (this.#applying) this.#waiting.push(apply);
    else apply();
  }

  async #apply(): Promise<void> {
    this.#applying = true;
    for (let size = this.#next; size !== undefined; size = this.#next) {
      this.#next = undefined;
      await this.#resize(size).catch((error: unknown) =>
        this.#log.warn({ err: error }, 'attach: resize failed'),
      );
    }
    this.#applying = false;
    for (const apply of this.#waiting.splice(0)) apply();
  }
}

function parseResize(payload: Buffer): TerminalSize | undefined {
  try {
    const size = resizeMessage.parse(JSON.parse(payload.toString('utf8')));
    return { rows: size.Height, cols: size.Width };
  } catch {
    return undefined;
  }
}

function frame(channel: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.of(channel), payload]);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
