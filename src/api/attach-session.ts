// One attached client of a job, over a WebSocket in the channels of contract/attach-channels.ts
// (kubectl's `v5.channel.k8s.io`). Output flows at the pace the client reads it, input at the
// pace the job reads it. A client that goes away leaves the job running and its input open.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import { CHANNEL, type AttachEnd } from '../contract/attach-channels.ts';
import type { Job, TerminalSize } from '../jobs/job.ts';
import type { JobInput } from '../worker/registry.ts';

/** Output waiting in the socket beyond this pauses the job's output streams. */
const HIGH_WATER_BYTES = 1024 * 1024;

const resizeMessage = z.object({
  Width: z.int().min(1).max(1000),
  Height: z.int().min(1).max(1000),
});

export interface AttachedOutput {
  readonly channel: typeof CHANNEL.stdout | typeof CHANNEL.stderr;
  readonly stream: Readable;
}

export interface AttachSession {
  readonly socket: WebSocket;
  readonly job: Job;
  /** Undefined for a job without an open input: what the client sends on 0 is dropped. */
  readonly input: JobInput | undefined;
  readonly outputs: readonly AttachedOutput[];
  resize(size: TerminalSize): Promise<void>;
  /** The job's final record, once it has ended. */
  ended(): Promise<Job>;
  readonly log: Logger;
}

export function runAttachSession(session: AttachSession): Promise<void> {
  const { socket } = session;
  const input = session.input === undefined ? undefined : new InputChannel(session.input);
  const outputs = forwardOutputs(session);
  socket.on('message', (data: RawData, isBinary: boolean) => {
    const message = toBuffer(data);
    if (!isBinary || message.length === 0) return;
    const channel = message[0];
    const payload = message.subarray(1);
    if (channel === CHANNEL.stdin) input?.write(payload, socket);
    else if (channel === CHANNEL.close && payload[0] === CHANNEL.stdin) input?.end(session.log);
    else if (channel === CHANNEL.resize) resize(session, payload);
  });
  return new Promise((resolve) => {
    socket.once('close', () => {
      for (const { stream } of session.outputs) stream.destroy();
      input?.leaveOpen();
      resolve();
    });
    outputs.then(
      async () => {
        const job = await session.ended();
        const status: AttachEnd = {
          status: job.status,
          exitCode: job.exitCode,
          signal: job.signal,
        };
        socket.send(frame(CHANNEL.status, Buffer.from(JSON.stringify(status))));
        socket.close(1000, 'the job has ended');
      },
      (error: unknown) => {
        session.log.warn({ err: error }, 'attach: output failed');
        socket.close(1011, 'output failed');
      },
    );
  });
}

/** Copies each output stream to its channel, pausing all of them while the client lags. */
async function forwardOutputs(session: AttachSession): Promise<void> {
  const { socket, outputs } = session;
  const resume = (): void => {
    if (socket.bufferedAmount > HIGH_WATER_BYTES / 2) return;
    for (const { stream } of outputs) stream.resume();
  };
  await Promise.all(
    outputs.map(
      ({ channel, stream }) =>
        new Promise<void>((resolve, reject) => {
          stream.on('data', (chunk: Buffer) => {
            socket.send(frame(channel, chunk), resume);
            if (socket.bufferedAmount > HIGH_WATER_BYTES) stream.pause();
          });
          stream.once('end', resolve);
          stream.once('error', reject);
          stream.once('close', resolve);
        }),
    ),
  );
}

/** The job's input: written as the job takes it, the socket paused meanwhile. */
class InputChannel {
  readonly #input: JobInput;
  /** The job no longer reads (or its input was ended): what comes is dropped. */
  #closed = false;

  constructor(input: JobInput) {
    this.#input = input;
    // EPIPE: the job closed its input or ended. Not the session's end: output still comes.
    input.stream.on('error', () => {
      this.#closed = true;
    });
  }

  write(bytes: Buffer, socket: WebSocket): void {
    if (this.#closed) return;
    if (!this.#input.stream.write(bytes)) {
      socket.pause();
      this.#input.stream.once('drain', () => socket.resume());
    }
  }

  end(log: Logger): void {
    if (this.#closed) return;
    this.#closed = true;
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
}

function resize(session: AttachSession, payload: Buffer): void {
  let size: z.output<typeof resizeMessage>;
  try {
    size = resizeMessage.parse(JSON.parse(payload.toString('utf8')));
  } catch {
    return;
  }
  session
    .resize({ rows: size.Height, cols: size.Width })
    .catch((error: unknown) => session.log.warn({ err: error }, 'attach: could not resize'));
}

function frame(channel: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.of(channel), payload]);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
