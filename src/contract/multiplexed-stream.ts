// A job's stdout and stderr told apart in one response body, for a client that asks for them with
// `Accept: application/vnd.jobworker.multiplexed-stream`: `jobctl run -f` then needs one request
// where it needed four. The frames are Docker's (its attach and logs streams): an 8-byte header,
// the stream (1 stdout, 2 stderr), three zero bytes and the payload's length as a big-endian
// uint32, then the payload. Plain data and functions (no zod): jobctl uses them at run time.

export const MULTIPLEXED_STREAM = 'application/vnd.jobworker.multiplexed-stream';

export type FramedStream = 'stdout' | 'stderr';

export const FRAME_HEADER_BYTES = 8;

/**
 * The largest payload a frame may carry. The server's frames are the pieces jobshim records, at
 * most 64 KiB; a decoder refuses more rather than buffer whatever a header claims.
 */
export const MAX_FRAME_PAYLOAD_BYTES = 1024 * 1024;

const STREAM_ID: Readonly<Record<FramedStream, number>> = { stdout: 1, stderr: 2 };

/** A frame's header, to be written just before its payload. */
export function frameHeader(stream: FramedStream, payloadBytes: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header[0] = STREAM_ID[stream];
  header.writeUInt32BE(payloadBytes, 4);
  return header;
}

export interface Frame {
  readonly stream: FramedStream;
  readonly payload: Buffer;
}

/**
 * Turns the bytes of a multiplexed body, cut anywhere, back into frames. Holds at most one
 * incomplete frame, of at most MAX_FRAME_PAYLOAD_BYTES; a header that names no stream, has
 * anything but zeros in its three padding bytes, or claims a larger payload is an error, not a
 * guess.
 */
export class FrameDecoder {
  #pending: Buffer = Buffer.alloc(0);

  /** The frames completed by `bytes`, in order. */
  push(bytes: Buffer): Frame[] {
    let buffer = this.#pending.length === 0 ? bytes : Buffer.concat([this.#pending, bytes]);
    const frames: Frame[] = [];
    while (buffer.length >= FRAME_HEADER_BYTES) {
      const stream = streamOf(buffer[0]);
      if (buffer[1] !== 0 || buffer[2] !== 0 || buffer[3] !== 0) {
        throw new Error('a multiplexed frame header has non-zero bytes where zeros belong');
      }
      const length = buffer.readUInt32BE(4);
      if (length > MAX_FRAME_PAYLOAD_BYTES) {
        throw new Error(`a multiplexed frame claims ${length} bytes, more than any frame has`);
      }
      if (buffer.length < FRAME_HEADER_BYTES + length) break;
      frames.push({
        stream,
        payload: buffer.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length),
      });
      buffer = buffer.subarray(FRAME_HEADER_BYTES + length);
    }
    // A view of the caller's chunk is copied: it would keep the whole chunk alive.
    this.#pending = buffer.buffer === bytes.buffer ? Buffer.from(buffer) : buffer;
    return frames;
  }

  /** Bytes of a frame begun and not finished: a body that ends with some was cut short. */
  get pendingBytes(): number {
    return this.#pending.length;
  }
}

function streamOf(id: number | undefined): FramedStream {
  if (id === STREAM_ID.stdout) return 'stdout';
  if (id === STREAM_ID.stderr) return 'stderr';
  throw new Error(`a multiplexed frame names stream ${String(id)}, not 1 (stdout) or 2 (stderr)`);
}
