// Reads a JSON request body with the checks a public endpoint needs: the right media type and a
// UTF-8 charset (415), a size cap enforced while reading rather than after (413), and valid JSON
// with no key twice in one object (400).
import { CodedError, InvalidRequestError } from '../../errors.ts';
import { findDuplicateKey } from '../../util/duplicate-key.ts';
import { lingerAfterRefusal } from './lingering-close.ts';
import type { AppContext } from '../state.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export async function readJsonBody(ctx: AppContext): Promise<unknown> {
  const declared = Number(ctx.get('Content-Length') || 0);
  if (declared > MAX_BODY_BYTES) {
    lingerAfterRefusal(ctx.req);
    throw tooLarge();
  }
  if (declared === 0 && ctx.get('Transfer-Encoding') === '') return {};
  if (!ctx.is('application/json')) {
    throw new CodedError(
      'UNSUPPORTED_MEDIA_TYPE',
      `expected Content-Type application/json, received '${ctx.get('Content-Type') || 'none'}'`,
    );
  }
  const charset = ctx.request.charset;
  if (charset !== '' && charset.toLowerCase() !== 'utf-8') {
    throw new CodedError(
      'UNSUPPORTED_MEDIA_TYPE',
      `expected a UTF-8 body (RFC 8259), received charset '${charset.slice(0, 40)}'`,
    );
  }
  const text = (await readCapped(ctx)).toString('utf8');
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidRequestError(`the body is not valid JSON: ${(error as Error).message}`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    const key = JSON.stringify(duplicate.slice(0, 64));
    throw new InvalidRequestError(`the body has the key ${key} twice in one object`, [
      { field: duplicate.slice(0, 64), message: 'appears twice' },
    ]);
  }
  return body;
}

/**
 * The body, up to MAX_BODY_BYTES. Past that (a chunked body declares no length) the rest is read
 * and discarded, within bounds, while the 413 is sent (lingering-close.ts), so the client reads
 * it; the stream is not destroyed under Koa, which would turn the answer into a bare 500.
 */
function readCapped(ctx: AppContext): Promise<Buffer> {
  const request = ctx.req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (error?: CodedError): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('aborted', onError);
      if (error === undefined) resolve(Buffer.concat(chunks));
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      finish(tooLarge());
      lingerAfterRefusal(request);
    };
    const onEnd = (): void => finish();
    // The client broke the body off (disconnected, or bad chunked framing): its fault, not ours.
    const onError = (): void =>
      finish(new InvalidRequestError('the request body was cut off before its end'));
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onError);
    request.once('aborted', onError);
  });
}

function tooLarge(): CodedError {
  return new CodedError('PAYLOAD_TOO_LARGE', `the body must be at most ${MAX_BODY_BYTES} bytes`);
}
