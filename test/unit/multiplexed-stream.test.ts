// The frames of a multiplexed output body: whatever sizes the network cuts the body into, the
// decoder gives back the frames the server encoded, and refuses a header that names no stream.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  type FramedStream,
} from '../../src/contract/multiplexed-stream.ts';

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

  it('refuses a frame for a stream that does not exist', () => {
    const frame = encodeFrame('stdout', Buffer.from('x'));
    frame[0] = 0;
    assert.throws(() => new FrameDecoder().push(frame), /stream 0/);
  });
});
