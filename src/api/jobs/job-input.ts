// Moves a request body into a job's input, as fast as the job reads it: the request is paused
// whenever the job's pipe is full, so a job that does not read costs one paused request, never a
// growing buffer. How it ended decides what the job sees: a complete body ends the job's input
// (EOF), a client that goes away leaves it open for the next writer.
import type { IncomingMessage } from 'node:http';
import { InputClosedError } from '../../errors.ts';
import type { JobInput } from '../../worker/registry.ts';

export type InputResult =
  /** The whole body was written and the job's input ended. */
  | { readonly kind: 'ended'; readonly bytes: number }
  /** The client went away before the end of its body; the job's input stays open. */
  | { readonly kind: 'cut'; readonly bytes: number };

export async function receiveInput(
  jobId: string,
  request: IncomingMessage,
  input: JobInput,
): Promise<InputResult> {
  let bytes = 0;
  const count = (chunk: Buffer): void => {
    bytes += chunk.length;
  };
  request.on('data', count);
  try {
    const kind = await copy(request, input);
    if (kind === 'ended') await input.end();
    return { kind, bytes };
  } catch (error) {
    // EPIPE: no process of the job reads its input any more (it exited, or closed it).
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
      throw new InputClosedError(jobId, `the job no longer reads it (${bytes} bytes sent)`);
    }
    throw error;
  } finally {
    request.off('data', count);
    request.unpipe(input.stream);
    input.stream.destroy();
  }
}

/** Pipes, settling when the job's side has every byte, or the client or the job gave up. */
function copy(request: IncomingMessage, input: JobInput): Promise<'ended' | 'cut'> {
  const { stream } = input;
  return new Promise((resolve, reject) => {
    stream.once('finish', () => resolve('ended'));
    stream.once('error', reject);
    request.once('close', () => {
      if (!request.complete) resolve('cut');
    });
    request.pipe(stream);
  });
}
