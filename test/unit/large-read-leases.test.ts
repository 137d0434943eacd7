// Large reads of output.log under the server's few leases: real files, real streams. Who reads
// large is seen in the sizes of the pieces a reader yields; that the lease came back, in the
// pool's count and in the next reader's pieces.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LargeReadLeases } from '../../src/worker/large-read-leases.ts';
import { endedSignal, OutputSignal } from '../../src/worker/output-signal.ts';
import { OUTPUT_INDEX, OUTPUT_LOG, OutputStream } from '../../src/worker/output-stream.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB;

/** Bytes that show any piece out of place: each 4-byte word is its own index from `from`. */
function numbered(bytes: number, from = 0): Buffer {
  const buffer = Buffer.alloc(bytes);
  for (let word = 0; word * 4 < bytes; word += 1) buffer.writeUInt32LE(from + word, word * 4);
  return buffer;
}

/** Steps through a reader's pieces one at a time, so the test decides who reads when. */
class Pieces {
  readonly reader: OutputStream;
  readonly #iterator: AsyncIterator<Buffer>;
  readonly all: Buffer[] = [];

  constructor(reader: OutputStream) {
    this.reader = reader;
    this.#iterator = reader[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async next(): Promise<Buffer | undefined> {
    const result = await this.#iterator.next();
    if (result.done === true) return undefined;
    this.all.push(result.value);
    return result.value;
  }

  async rest(): Promise<Buffer[]> {
    const start = this.all.length;
    while ((await this.next()) !== undefined);
    return this.all.slice(start);
  }

  get sizes(): number[] {
    return this.all.map((piece) => piece.length);
  }

  get bytes(): Buffer {
    return Buffer.concat(this.all);
  }
}

const largest = (sizes: number[]): number => Math.max(...sizes);
/** A rate every client keeps: the tests below are about who holds a lease, not about speed. */
const EVERY_CLIENT_KEEPS_UP = 0;

describe('large reads of the output under shared leases', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'large-reads-'));
    await writeFile(join(dir, OUTPUT_INDEX), '');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const reader = (
    leases: LargeReadLeases | undefined,
    signal = endedSignal(),
    client = 'alice',
  ): Pieces =>
    new Pieces(
      new OutputStream({
        dir,
        select: 'all',
        offset: 0,
        follow: true,
        signal,
        ...(leases === undefined ? {} : { leases: { pool: leases, reader: client } }),
      }),
    );

  it('lets one reader of two read large, the other a chunk at a time, both every byte', async () => {
    const content = numbered(5 * MiB);
    await writeFile(join(dir, OUTPUT_LOG), content);
    const leases = new LargeReadLeases(1, EVERY_CLIENT_KEEPS_UP);
    const first = reader(leases);
    assert.equal((await first.next())?.length, MiB);
    assert.equal(leases.available, 0);
    // The first holds its lease half-way through the file while the second reads all of it.
    const second = reader(leases);
    await second.rest();
    assert.ok(largest(second.sizes) <= CHUNK, `second read ${largest(second.sizes)} at once`);
    assert.ok(second.bytes.equals(content));
    assert.equal(leases.available, 0);
    await first.rest();
    assert.ok(first.bytes.equals(content));
    // Large while more than a MiB lay ahead, then a MiB of chunks before the end.
    assert.deepEqual(first.sizes, [MiB, MiB, MiB, MiB, ...Array<number>(16).fill(CHUNK)]);
    assert.equal(leases.available, 1);
  });

  it('gives the lease to the next reader once the first has read to the end', async () => {
    const content = numbered(3 * MiB);
    await writeFile(join(dir, OUTPUT_LOG), content);
    const leases = new LargeReadLeases(1, EVERY_CLIENT_KEEPS_UP);
    const first = reader(leases);
    await first.rest();
    assert.equal(largest(first.sizes), MiB);
    const next = reader(leases);
    await next.rest();
    assert.equal(largest(next.sizes), MiB);
    assert.ok(next.bytes.equals(content));
    assert.equal(leases.available, 1);
  });

  it('takes the lease back from a reader destroyed half-way', async () => {
    await writeFile(join(dir, OUTPUT_LOG), numbered(5 * MiB));
    const leases = new LargeReadLeases(1, EVERY_CLIENT_KEEPS_UP);
    const first = reader(leases);
    assert.equal((await first.next())?.length, MiB);
    first.reader.destroy();
    await once(first.reader, 'close');
    assert.equal(leases.available, 1);
    const next = reader(leases);
    assert.equal((await next.next())?.length, MiB);
    next.reader.destroy();
    await once(next.reader, 'close');
    assert.equal(leases.available, 1);
  });

  it('keeps no large buffer alive behind a short read', async () => {
    await writeFile(join(dir, OUTPUT_LOG), 'hello');
    for (const leases of [new LargeReadLeases(1, EVERY_CLIENT_KEEPS_UP), undefined]) {
      const pieces = await reader(leases).rest();
      assert.deepEqual(
        pieces.map((piece) => [piece.toString(), piece.buffer.byteLength]),
        [['hello', 5]],
      );
    }
  });

  it('never reaches the end it follows with a lease, and takes one again as the job writes on', async () => {
    const signal = new OutputSignal();
    const before = numbered(3 * MiB);
    await writeFile(join(dir, OUTPUT_LOG), before);
    const leases = new LargeReadLeases(1, EVERY_CLIENT_KEEPS_UP);
    const follower = reader(leases, signal);
    const atEnd: number[] = [];
    // Whenever the follower has caught up with what is on disk, its lease is back.
    const readTo = async (end: number): Promise<void> => {
      while (follower.bytes.length < end) await follower.next();
      atEnd.push(leases.available);
    };
    await readTo(before.length);
    assert.deepEqual(follower.sizes, [MiB, MiB, ...Array<number>(16).fill(CHUNK)]);
    await appendFile(join(dir, OUTPUT_LOG), numbered(3 * MiB, before.length / 4));
    signal.notify();
    await readTo(6 * MiB);
    // A MiB of chunks before it looks for a lease again, one large piece, a MiB of chunks.
    assert.deepEqual(follower.sizes.slice(18), [
      ...Array<number>(16).fill(CHUNK),
      MiB,
      ...Array<number>(16).fill(CHUNK),
    ]);
    signal.end();
    assert.equal(await follower.next(), undefined);
    assert.ok(follower.bytes.equals(numbered(6 * MiB)));
    assert.deepEqual(atEnd, [1, 1]);
  });

  it('gives the lease back after a long run of large pieces, for another reader to take', async () => {
    const content = numbered(70 * MiB);
    await writeFile(join(dir, OUTPUT_LOG), content);
    const leases = new LargeReadLeases(1, EVERY_CLIENT_KEEPS_UP);
    const slow = reader(leases);
    while (leases.available === 0 || slow.all.length === 0) await slow.next();
    // 64 large pieces, then chunks until they have left its pipeline.
    assert.deepEqual(slow.sizes, [
      ...Array<number>(64).fill(MiB),
      ...Array<number>(16).fill(CHUNK),
    ]);
    const other = reader(leases);
    assert.equal((await other.next())?.length, MiB);
    await slow.rest();
    assert.ok(largest(slow.sizes.slice(64)) <= CHUNK);
    assert.ok(slow.bytes.equals(content));
    other.reader.destroy();
    await once(other.reader, 'close');
    assert.equal(leases.available, 1);
  });

  it('takes the lease back from a reader whose client takes its pieces slowly', async () => {
    await writeFile(join(dir, OUTPUT_LOG), numbered(4 * MiB));
    const leases = new LargeReadLeases(1);
    const slow = reader(leases);
    // A client on a slow link, about 3 MiB/s (a tenth of the rate asked). A new reader is taken
    // to keep up, and until its pieces have filled the stream's buffer (one piece here) it looks
    // fast: two large pieces. The first it is slow to take shows it, and it reads small after.
    let availableAtEnd = 0;
    for (let piece = await slow.next(); piece !== undefined; piece = await slow.next()) {
      availableAtEnd = leases.available;
      await delay(piece.length / (3 * KiB));
    }
    const large = slow.sizes.filter((size) => size > CHUNK);
    assert.ok(large.length <= 2, `large pieces: ${large.join(', ')}`);
    assert.equal(availableAtEnd, 1, 'the lease was back before the reader had read everything');
    assert.deepEqual(slow.bytes, numbered(4 * MiB));
  });

  it('lets one client hold one lease, however many of its readers could use more', async () => {
    const content = numbered(5 * MiB);
    await writeFile(join(dir, OUTPUT_LOG), content);
    const leases = new LargeReadLeases(2, EVERY_CLIENT_KEEPS_UP);
    const first = reader(leases, endedSignal(), 'mallory');
    assert.equal((await first.next())?.length, MiB);
    // Her second reader finds a lease free but reads small: she holds hers already.
    const second = reader(leases, endedSignal(), 'mallory');
    assert.ok(((await second.next())?.length ?? 0) <= CHUNK);
    assert.equal(leases.available, 1);
    // Another client gets the one left.
    const other = reader(leases, endedSignal(), 'bob');
    assert.equal((await other.next())?.length, MiB);
    assert.equal(leases.available, 0);
    // Her second reader reads to the end while her first still holds the lease.
    for (const pieces of [second, first, other]) {
      await pieces.rest();
      assert.ok(pieces.bytes.equals(content));
    }
    assert.ok(largest(second.sizes) <= CHUNK, `her second reader read ${largest(second.sizes)}`);
    assert.equal(leases.available, 2);
  });

  it('reads a chunk at a time without leases', async () => {
    const content = numbered(3 * MiB);
    await writeFile(join(dir, OUTPUT_LOG), content);
    const plain = reader(undefined);
    await plain.rest();
    assert.ok(largest(plain.sizes) <= CHUNK);
    assert.ok(plain.bytes.equals(content));
  });
});
