// The `cursor` of a paged listing: where the next page starts, sealed (AES-256-GCM) with a key
// the server keeps in its store. Sealed rather than signed because the position is a counter
// shared by every client's jobs: in the clear, its gaps would tell a client how many jobs others
// run. The seal also binds the cursor to the client and the filters of the listing it came
// from, so a cursor taken from another client's list, or from another listing, or made up, is
// refused with the same words and tells nothing.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InvalidRequestError } from '../../errors.ts';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const POSITION_BYTES = 8;
const SEALED_BYTES = IV_BYTES + POSITION_BYTES + TAG_BYTES;

export class ListCursors {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('a list cursor key is 32 bytes');
    this.#key = key;
  }

  /** A cursor for the page after `position` of the listing described by `scope`. */
  seal(position: number, scope: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(scope));
    const plain = Buffer.alloc(POSITION_BYTES);
    plain.writeBigUInt64BE(BigInt(position));
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return sealed.toString('base64url');
  }

  /** The position a cursor of this listing stands for; anything else is an INVALID_REQUEST. */
  open(cursor: string, scope: string): number {
    const sealed = Buffer.from(cursor, 'base64url');
    if (sealed.length !== SEALED_BYTES || sealed.toString('base64url') !== cursor) {
      throw invalidCursor();
    }
    const iv = sealed.subarray(0, IV_BYTES);
    const body = sealed.subarray(IV_BYTES, IV_BYTES + POSITION_BYTES);
    const tag = sealed.subarray(IV_BYTES + POSITION_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
      decipher.setAAD(Buffer.from(scope));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(body), decipher.final()]);
      return Number(plain.readBigUInt64BE());
    } catch {
      throw invalidCursor();
    }
  }
}

function invalidCursor(): InvalidRequestError {
  const message = 'not a cursor of this listing: follow the Link of the previous page';
  return new InvalidRequestError(`invalid query: ?cursor: ${message}`, [
    { field: '?cursor', message },
  ]);
}
