// Copies a job's output to local streams: each selected stream is its own request (stdout to
// stdout, stderr to stderr, as `docker run` and `ssh` keep them apart), all over the client's
// keep-alive agent. A follower can be paused while jobctl asks the user something, and destroyed
// to detach.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { CliError } from './errors.ts';
import type { ApiClient } from './http-client.ts';

export type StreamName = 'stdout' | 'stderr' | 'all';

export interface OutputTarget {
  readonly stream: StreamName;
  readonly to: NodeJS.WritableStream;
  /** A connection opened ahead (ApiClient.preconnect) to read this stream over. */
  readonly connection?: TLSSocket;
}

/** Reading from here on gives nothing but the end: a wait for the job to end, with no output. */
export const END_OFFSET = Number.MAX_SAFE_INTEGER;

export class OutputFollower {
  /** Resolves when every stream has ended (with the job, when following) or was destroyed. */
  readonly done: Promise<void>;
  readonly #responses: IncomingMessage[] = [];
  #paused = false;
  #destroyed = false;

  constructor(
    client: ApiClient,
    jobId: string,
    targets: readonly OutputTarget[],
    options: { follow: boolean; offset?: number },
  ) {
    this.done = Promise.all(
      targets.map((target) => {
        const query = new URLSearchParams({
          follow: String(options.follow),
          stream: target.stream,
          ...(options.offset === undefined ? {} : { offset: String(options.offset) }),
        });
        return this.#copy(client, `/v1/jobs/${jobId}/output?${query.toString()}`, target);
      }),
    ).then(() => undefined);
  }

  pause(): void {
    this.#paused = true;
    for (const response of this.#responses) response.pause();
  }

  resume(): void {
    this.#paused = false;
    for (const response of this.#responses) response.resume();
  }

  destroy(): void {
    this.#destroyed = true;
    for (const response of this.#responses) response.destroy();
  }

  async #copy(client: ApiClient, path: string, target: OutputTarget): Promise<void> {
    const { to, connection } = target;
    let response: IncomingMessage;
    try {
      response = await client.open(
        'GET',
        path,
        undefined,
        connection === undefined ? {} : { connection },
      );
    } catch (error) {
      // After a detach nobody waits for this stream any more, so its failure does not matter.
      if (this.#destroyed) return;
      throw error;
    }
    if (this.#destroyed) {
      response.destroy();
      return;
    }
    this.#responses.push(response);
    if (this.#paused) response.pause();
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: Buffer) => {
        if (to.write(chunk)) return;
        response.pause();
        to.once('drain', () => {
          if (!this.#paused && !this.#destroyed) response.resume();
        });
      });
      response.once('end', resolve);
      response.once('close', () => {
        if (this.#destroyed || response.complete) resolve();
        else reject(lostConnection(client));
      });
      response.once('error', () => {
        if (this.#destroyed) resolve();
        else reject(lostConnection(client));
      });
    });
  }
}

function lostConnection(client: ApiClient): CliError {
  return new CliError(
    'CONNECTION_FAILED',
    `lost the connection to ${client.settings.url.host} while reading the job's output`,
  );
}

/** Resolves when the job has ended, without reading any of its output. */
export function waitForEnd(client: ApiClient, jobId: string): Promise<void> {
  return new OutputFollower(client, jobId, [{ stream: 'all', to: process.stdout }], {
    follow: true,
    offset: END_OFFSET,
  }).done;
}
