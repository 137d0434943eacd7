// Streams jobctl's own stdin into a job's input (`jobctl run -i`), as `docker run -i` and `ssh`
// do: over a request of its own, at the pace the job reads, and the end of jobctl's stdin is the
// end of the job's. A job that stops reading its input (`head -1`) is not an error.
import type { ClientRequest } from 'node:http';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { ApiError } from './errors.ts';
import type { ApiClient } from './http-client.ts';

export class InputSender {
  /** Rejects if the input cannot be sent; never resolves (the job's end is what ends a run). */
  readonly failed: Promise<never>;
  readonly #source: Readable;
  #request: ClientRequest | undefined;
  #stopped = false;

  constructor(client: ApiClient, jobId: string, source: Readable, connection?: TLSSocket) {
    this.#source = source;
    this.failed = this.#send(client, jobId, connection).then(() => new Promise<never>(() => {}));
  }

  /** Stops sending (the job has ended, or the user detached): jobctl's stdin is let go. */
  stop(): void {
    this.#stopped = true;
    this.#request?.destroy();
    this.#source.unpipe();
    this.#source.destroy();
  }

  async #send(client: ApiClient, jobId: string, connection: TLSSocket | undefined): Promise<void> {
    try {
      const response = await client.upload('PUT', `/v1/jobs/${jobId}/stdin`, this.#source, {
        ...(connection === undefined ? {} : { connection }),
        request: (request) => {
          this.#request = request;
        },
      });
      response.resume();
    } catch (error) {
      if (this.#stopped) return;
      // The job closed its input or ended: what it did not read it did not want.
      if (error instanceof ApiError && isEndOfReading(error.problemCode)) {
        this.#source.destroy();
        return;
      }
      // A connection cut while sending is most often the same thing: the server refused the rest
      // of a body the job stopped reading, and closed the connection before the answer was read.
      // If the server itself is gone, the job's output says so, and that ends the run.
      if (!(error instanceof ApiError)) {
        this.#source.destroy();
        return;
      }
      throw error;
    }
  }
}

function isEndOfReading(code: string | undefined): boolean {
  return code === 'INPUT_CLOSED' || code === 'JOB_ALREADY_ENDED';
}
