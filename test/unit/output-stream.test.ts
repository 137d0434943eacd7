// Reading a job's output files without a job: output.log and output.idx written here by hand, as
// jobshim writes them (the bytes, then their index record), and read back as bytes of one
// selection or as chunks of both streams in the order written, from any offset and following.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { endedSignal, OutputSignal } from '../../src/worker/output-signal.ts';
import {
  OUTPUT_INDEX,
  OUTPUT_LOG,
  OutputChunkStream,
  OutputStream,
  outputSizes,
  type OutputChunk,
  type OutputSelection,
  type StreamName,
} from '../../src/worker/output-stream.ts';

type Write = [StreamName, string];

const WRITES: Write[] = [
  ['stdout', 'a1'],
  ['stderr', 'warn'],
  ['stdout', 'b2'],
  ['stdout', 'c3'],
  ['stderr', 'oops'],
  ['stdout', 'd4'],
];

/** The index record of a chunk: its length, bit 31 for stderr. */
function record(stream: StreamName, length: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE((length | (stream === 'stderr' ? 0x8000_0000 : 0)) >>> 0);
  return bytes;
}

async function append(dir: string, writes: Write[]): Promise<void> {
  for (const [stream, text] of writes) {
    await appendFile(join(dir, OUTPUT_LOG), text);
    await appendFile(join(dir, OUTPUT_INDEX), record(stream, Buffer.byteLength(text)));
  }
}

async function collect<T>(stream: Readable): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item as T);
  return items;
}

function asWrites(chunks: OutputChunk[]): Write[] {
  return chunks.map((chunk) => [chunk.stream, chunk.bytes.toString('utf8')]);
}

describe('reading the output files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'output-stream-'));
    await writeFile(join(dir, OUTPUT_LOG), '');
    await writeFile(join(dir, OUTPUT_INDEX), '');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const chunks = (offset: number, signal = endedSignal()): OutputChunkStream =>
    new OutputChunkStream({ dir, offset, follow: true, signal, terminal: false });

  it('reads both streams in the order written, each chunk with its stream', async () => {
    await append(dir, WRITES);
    assert.deepEqual(asWrites(await collect(chunks(0))), WRITES);
  });

  it('starts at an offset in the whole output, cutting the chunk it falls in', async () => {
    await append(dir, WRITES);
    // a1 warn b2 c3 oops d4: byte 7 is the "2" of b2.
    assert.deepEqual(asWrites(await collect(chunks(7))), [
      ['stdout', '2'],
      ['stdout', 'c3'],
      ['stderr', 'oops'],
      ['stdout', 'd4'],
    ]);
    assert.deepEqual(await collect(chunks(16)), []);
    assert.deepEqual(await collect(chunks(1000)), []);
  });

  it("reads a terminal's output, one stream, as stdout from output.log, from any offset", async () => {
    // A terminal's output has no stderr: the index, whatever it holds, is not needed.
    await writeFile(join(dir, OUTPUT_LOG), 'prompt$ ls\r\nfile\r\n');
    const terminal = (offset: number): OutputChunkStream =>
      new OutputChunkStream({ dir, offset, follow: true, signal: endedSignal(), terminal: true });
    const text = (chunks: OutputChunk[]): string =>
      Buffer.concat(chunks.map((chunk) => chunk.bytes)).toString('utf8');
    const all = await collect<OutputChunk>(terminal(0));
    assert.ok(all.every((chunk) => chunk.stream === 'stdout'));
    assert.equal(text(all), 'prompt$ ls\r\nfile\r\n');
    assert.equal(text(await collect<OutputChunk>(terminal(8))), 'ls\r\nfile\r\n');
  });

  it('still reads one stream, or everything, as bytes; and counts each stream', async () => {
    await append(dir, WRITES);
    const bytes = async (select: OutputSelection, offset: number): Promise<string> =>
      Buffer.concat(
        await collect<Buffer>(
          new OutputStream({ dir, select, offset, follow: false, signal: new OutputSignal() }),
        ),
      ).toString('utf8');
    assert.equal(await bytes('all', 0), 'a1warnb2c3oopsd4');
    assert.equal(await bytes('stdout', 0), 'a1b2c3d4');
    assert.equal(await bytes('stderr', 0), 'warnoops');
    assert.equal(await bytes('stdout', 3), '2c3d4');
    assert.equal(await bytes('stderr', 5), 'ops');
    assert.deepEqual(await outputSizes(dir), { stdout: 8, stderr: 8, all: 16 });
  });

  it('follows until the job ends, taking a chunk only once its index record is whole', async () => {
    await append(dir, WRITES.slice(0, 2));
    const signal = new OutputSignal();
    const reader = chunks(0, signal);
    const seen: Write[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      reader.on('data', (chunk: OutputChunk) => seen.push(...asWrites([chunk])));
      reader.once('end', resolve);
      reader.once('error', reject);
    });
    const until = async (count: number): Promise<void> => {
      while (seen.length < count) await sleep(5);
    };
    await until(2);
    // The bytes are on disk and three bytes of their record: not yet a chunk to deliver.
    await appendFile(join(dir, OUTPUT_LOG), 'b2');
    await appendFile(join(dir, OUTPUT_INDEX), record('stdout', 2).subarray(0, 3));
    signal.notify();
    await sleep(50);
    assert.deepEqual(seen, WRITES.slice(0, 2));
    await appendFile(join(dir, OUTPUT_INDEX), record('stdout', 2).subarray(3));
    signal.notify();
    await until(3);
    await append(dir, WRITES.slice(3));
    signal.end();
    await ended;
    assert.deepEqual(seen, WRITES);
  });

  it('fails to open a job without output files', async () => {
    await rm(dir, { recursive: true, force: true });
    await assert.rejects(collect(chunks(0)), { code: 'ENOENT' });
    assert.deepEqual(await outputSizes(dir), { stdout: 0, stderr: 0, all: 0 });
  });
});
