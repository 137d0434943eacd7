// Copies a job's output to local streams, stdout to stdout and stderr to stderr, as `docker run`
// and `ssh` keep them apart. Both streams come told apart in one response (multiplexed frames,
// contract/multiplexed-stream.ts): the answer of `POST /v1/jobs?follow=true` itself when jobctl
// starts the job, otherwise one GET. One selected stream is read as plain bytes. A follower can be
// paused while jobctl asks the user something, and destroyed to detach.
import type { IncomingMessage } from 'node:http';
import { JOB_TRAILERS } from '../contract/job-trailers.ts';
import { FrameDecoder, MULTIPLEXED_STREAM } from '../contract/multiplexed-stream.ts';
import { CliError } from './errors.ts';
import type { ApiClient } from './http-client.ts';

export type StreamName = 'stdout' | 'stderr' | 'all';

/** Where each of the job's streams goes when both are followed. */
export interface Destinations {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * `both`: both streams, each to its own destination (read multiplexed); or one selection of the
 * output as bytes, where `all` is both streams interleaved into one destination.
 */
export type OutputTarget =
  | { readonly stream: 'both'; readonly to: Destinations }
  | { readonly stream: StreamName; readonly to: NodeJS.WritableStream };

/** How a followed job ended, as the trailers of `POST /v1/jobs?follow=true` say it. */
export interface TrailerEnding {
  readonly status: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Undefined from a server that does not say (older than this jobctl). */
  readonly oomKilled: boolean | undefined;
  /**
   * Why it ended when its owner did not ask for it (a timeout, an OOM kill, a revocation): the
   * server has then also written it as the last line of the job's stderr, marked `jobworker:`.
   */
  readonly error: string | undefined;
}

/** Which part of the output a GET reads, and how. */
export interface ReadOptions {
  readonly follow: boolean;
  /** Bytes of the selected output to skip. */
  readonly offset?: number;
  /** An RFC 3339 time: from the first chunk written at or after it. */
  readonly since?: string;
  /** Each line prefixed with its chunk's time, as `docker logs --timestamps` does. */
  readonly timestamps?: boolean;
}

/** Reading from here on gives nothing but the end: a wait for the job to end, with no output. */
export const END_OFFSET = Number.MAX_SAFE_INTEGER;

export class OutputFollower {
  /** Resolves when the output has ended (with the job, when following) or was destroyed. */
  readonly done: Promise<void>;
  readonly #client: ApiClient;
  #response: IncomingMessage | undefined;
  #paused = false;
  #destroyed = false;

  /** Follows `target` of a job with a GET of its output. */
  static read(
    client: ApiClient,
    jobId: string,
    target: OutputTarget,
    options: ReadOptions,
  ): OutputFollower {
    const query = new URLSearchParams({
      follow: String(options.follow),
      stream: target.stream === 'both' ? 'all' : target.stream,
      ...(options.offset === undefined ? {} : { offset: String(options.offset) }),
      ...(options.since === undefined ? {} : { since: options.since }),
      ...(options.timestamps === true ? { timestamps: 'true' } : {}),
    });
    const path = `/v1/jobs/${jobId}/output?${query.toString()}`;
    const accept = target.stream === 'both' ? MULTIPLEXED_STREAM : 'application/octet-stream';
    return new OutputFollower(client, client.open('GET', path, undefined, { accept }), target);
  }

  /** Follows the output a response already carries: a job started with `?follow=true`. */
  static ofResponse(
    client: ApiClient,
    response: IncomingMessage,
    to: Destinations,
  ): OutputFollower {
    return new OutputFollower(client, Promise.resolve(response), { stream: 'both', to });
  }

  private constructor(client: ApiClient, response: Promise<IncomingMessage>, target: OutputTarget) {
    this.#client = client;
    this.done = this.#copy(response, target);
  }

  /** The job's ending from the trailers, once `done`; undefined if the server sent none. */
  get ending(): TrailerEnding | undefined {
    // Node gives trailers with lower-case names.
    const trailers = this.#response?.trailers ?? {};
    const trailer = (name: string): string | undefined => trailers[name.toLowerCase()];
    const status = trailer(JOB_TRAILERS.status);
    if (status === undefined || status === '') return undefined;
    const exitCode = trailer(JOB_TRAILERS.exitCode) ?? '';
    return {
      status,
      exitCode: /^\d+$/.test(exitCode) ? Number(exitCode) : null,
      signal: trailer(JOB_TRAILERS.signal) || null,
      oomKilled: booleanOf(trailer(JOB_TRAILERS.oomKilled)),
      error: trailer(JOB_TRAILERS.error) || undefined,
    };
  }

  pause(): void {
    this.#paused = true;
    this.#response?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#response?.resume();
  }

  destroy(): void {
    this.#destroyed = true;
    this.#response?.destroy();
  }

  async #copy(opening: Promise<IncomingMessage>, target: OutputTarget): Promise<void> {
    let response: IncomingMessage;
    try {
      response = await opening;
    } catch (error) {
      // After a detach nobody waits for this output any more, so its failure does not matter.
      if (this.#destroyed) return;
      throw error;
    }
    if (this.#destroyed) {
      response.destroy();
      return;
    }
    this.#response = response;
    if (this.#paused) response.pause();
    const sink = sinkFor(response, target);
    await new Promise<void>((resolve, reject) => {
      const failWith = (error: unknown): void => {
        response.destroy();
        reject(new CliError('PROTOCOL', (error as Error).message));
      };
      response.on('data', (chunk: Buffer) => {
        let blocked: NodeJS.WritableStream[];
        try {
          blocked = sink.write(chunk);
        } catch (error) {
          return failWith(error);
        }
        if (blocked.length === 0) return;
        response.pause();
        let draining = blocked.length;
        for (const destination of blocked) {
          destination.once('drain', () => {
            draining -= 1;
            if (draining === 0 && !this.#paused && !this.#destroyed) response.resume();
          });
        }
      });
      response.once('end', () => {
        try {
          sink.end();
          resolve();
        } catch (error) {
          failWith(error);
        }
      });
      response.once('close', () => {
        if (this.#destroyed || response.complete) resolve();
        else reject(lostConnection(this.#client));
      });
      response.once('error', () => {
        if (this.#destroyed) resolve();
        else reject(lostConnection(this.#client));
      });
    });
  }
}

/** Where the pieces of a response go. */
interface Sink {
  /** Writes a piece; returns the destinations that asked to wait (their buffers are full). */
  write(chunk: Buffer): NodeJS.WritableStream[];
  /** Throws if the body ended in the middle of a frame. */
  end(): void;
}

/**
 * Frames are taken apart only if the server sent frames: a server older than this jobctl sends
 * both streams as bytes, which then all go to stdout, as curl shows them.
 */
function sinkFor(response: IncomingMessage, target: OutputTarget): Sink {
  const whole = (to: NodeJS.WritableStream): Sink => ({
    write: (chunk) => (to.write(chunk) ? [] : [to]),
    end: () => undefined,
  });
  if (target.stream !== 'both') return whole(target.to);
  if (!(response.headers['content-type'] ?? '').startsWith(MULTIPLEXED_STREAM)) {
    return whole(target.to.stdout);
  }
  const decoder = new FrameDecoder();
  return {
    write: (chunk) => {
      const blocked = new Set<NodeJS.WritableStream>();
      for (const frame of decoder.push(chunk)) {
        const destination = target.to[frame.stream];
        if (!destination.write(frame.payload)) blocked.add(destination);
      }
      return [...blocked];
    },
    end: () => {
      if (decoder.pendingBytes > 0) {
        throw new Error(`the output ended ${decoder.pendingBytes} bytes into a frame`);
      }
    },
  };
}

function booleanOf(text: string | undefined): boolean | undefined {
  if (text === 'true') return true;
  return text === 'false' ? false : undefined;
}

function lostConnection(client: ApiClient): CliError {
  return new CliError(
    'CONNECTION_FAILED',
    `lost the connection to ${client.settings.url.host} while reading the job's output`,
  );
}

/** Resolves when the job has ended, without reading any of its output. */
export function waitForEnd(client: ApiClient, jobId: string): Promise<void> {
  return OutputFollower.read(
    client,
    jobId,
    { stream: 'all', to: process.stdout },
    { follow: true, offset: END_OFFSET },
  ).done;
}
