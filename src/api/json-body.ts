// Reads a JSON request body with the checks a public endpoint needs: the right media type (415),
// a size cap enforced while reading rather than after (413), and valid JSON (400).
import { InvalidRequestError, WorkerError } from '../errors.ts';
import type { AppContext } from './state.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export async function readJsonBody(ctx: AppContext): Promise<unknown> {
  const declared = Number(ctx.get('Content-Length') || 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  if (declared === 0 && ctx.get('Transfer-Encoding') === '') return {};
  if (!ctx.is('application/json')) {
    throw new WorkerError(
      'UNSUPPORTED_MEDIA_TYPE',
      `expected Content-Type application/json, received '${ctx.get('Content-Type') || 'none'}'`,
    );
  }
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof WorkerError) throw error;
    // The client broke the body off (disconnected, or bad chunked framing): its fault, not ours.
    throw new InvalidRequestError('the request body was cut off before its end');
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidRequestError(`the body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(): WorkerError {
  return new WorkerError('PAYLOAD_TOO_LARGE', `the body must be at most ${MAX_BODY_BYTES} bytes`);
}
