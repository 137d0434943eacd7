// The frames of a multiplexed output body: whatever sizes the network cuts the body into, the
// decoder gives back the frames the server encoded, and refuses a header that names no stream.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  frameHeader,
  MAX_FRAME_PAYLOAD_BYTES,
  type FramedStream,
} from '../../src/contract/multiplexed-stream.ts';

/** A frame as the server writes it: its header, then its payload. */
function encodeFrame(stream: FramedStream, payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(stream, payload.length), payload]);
}

const frameArbitrary = fc.record({
  stream: fc.constantFrom<FramedStream>('stdout', 'stderr'),
  payload: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
});

describe('multiplexed stream frames', () => {
  it("has Docker's layout: the stream, three zero bytes, a big-endian length, the payload", () => {
    const frame = encodeFrame('stderr', Buffer.from('hi'));
    assert.deepEqual([...frame], [2, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69]);
    assert.equal(encodeFrame('stdout', Buffer.alloc(0)).length, FRAME_HEADER_BYTES);
  });

  it('decodes what was encoded, however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { maxLength: 20 }),
        fc.array(fc.nat()),
        (frames, cuts) => {
          const body = Buffer.concat(
            frames.map((frame) => encodeFrame(frame.stream, frame.payload)),
          );
          const points = [...new Set(cuts.map((cut) => cut % (body.length + 1)))].sort(
            (a, b) => a - b,
          );
          const decoder = new FrameDecoder();
          const decoded = [];
          let from = 0;
          for (const point of [...points, body.length]) {
            decoded.push(...decoder.push(body.subarray(from, point)));
            from = point;
          }
          assert.deepEqual(
            decoded.map((frame) => ({ stream: frame.stream, payload: Buffer.from(frame.payload) })),
            frames.map((frame) => ({ stream: frame.stream, payload: frame.payload })),
          );
        },
      ),
    );
  });

  it('counts the bytes of a frame not yet finished, so a cut body can be told', () => {
    const frame = encodeFrame('stdout', Buffer.from('hello'));
    const decoder = new FrameDecoder();
    assert.deepEqual(decoder.push(frame.subarray(0, 10)), []);
    assert.equal(decoder.pendingBytes, 10);
    assert.equal(decoder.push(frame.subarray(10)).length, 1);
    assert.equal(decoder.pendingBytes, 0);
  });

  it('refuses a header that claims more than a frame may carry, before waiting for it', () => {
    const header = frameHeader('stderr', MAX_FRAME_PAYLOAD_BYTES + 1);
    assert.throws(() => new FrameDecoder().push(header), /claims/);
  });

  it('refuses a header whose padding is not zeros', () => {
    const frame = encodeFrame('stdout', Buffer.from('x'));
    frame[2] = 1;
    assert.throws(() => new FrameDecoder().push(frame), /non-zero/);
  });

  it('refuses a frame for a stream that does not exist', () => {
    const frame = encodeFrame('stdout', Buffer.from('x'));
    frame[0] = 0;
    assert.throws(() => new FrameDecoder().push(frame), /stream 0/);
  });
});
