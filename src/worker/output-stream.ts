// Reads a job's output from disk as a stream, from any byte offset, optionally following it until
// the job ends. The supervisor writes two files per job (see native/jobshim.c):
//   output.log  the bytes of stdout and stderr, interleaved in the order they were read;
//   output.idx  one little-endian uint32 per chunk of output.log, written after the chunk:
//               bit 31 set for stderr, the low 31 bits the chunk's length.
// Reading everything needs only output.log. Reading one stream walks output.idx and picks that
// stream's chunks out of output.log. Memory per reader is one chunk, whatever the output's size.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { OutputSignal } from './output-signal.ts';

export type OutputSelection = 'all' | 'stdout' | 'stderr';

export const OUTPUT_LOG = 'output.log';
export const OUTPUT_INDEX = 'output.idx';

const CHUNK_BYTES = 64 * 1024;
const RECORD_BYTES = 4;
const STDERR_BIT = 0x8000_0000;

export interface OutputStreamOptions {
  readonly dir: string;
  readonly select: OutputSelection;
  /** Byte offset within the selected stream to start from. */
  readonly offset: number;
  /** Keep reading until the job ends instead of stopping at the current end. */
  readonly follow: boolean;
  readonly signal: OutputSignal;
}

/**
 * How many bytes each stream has so far: where "from now on" starts in each selection. Walks the
 * index a chunk at a time, so a job of many tiny writes costs time here, not memory.
 */
export async function outputSizes(dir: string): Promise<Record<OutputSelection, number>> {
  const sizes = { stdout: 0, stderr: 0 };
  let index: FileHandle;
  try {
    index = await open(join(dir, OUTPUT_INDEX), 'r');
  } catch {
    return { ...sizes, all: 0 };
  }
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    let position = 0;
    for (;;) {
      const { bytesRead } = await index.read(buffer, 0, buffer.length, position);
      const whole = bytesRead - (bytesRead % RECORD_BYTES);
      if (whole === 0) break;
      for (let at = 0; at < whole; at += RECORD_BYTES) {
        const record = buffer.readUInt32LE(at);
        const length = record & ~STDERR_BIT;
        if ((record & STDERR_BIT) !== 0) sizes.stderr += length;
        else sizes.stdout += length;
      }
      position += whole;
    }
  } finally {
    await index.close();
  }
  return { ...sizes, all: sizes.stdout + sizes.stderr };
}

/** Where the next bytes of the selection are, one source of bytes per reading strategy. */
interface ByteSource {
  /** The next bytes available now, or undefined if there are none yet. */
  next(maxBytes: number): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

export class OutputStream extends Readable {
  readonly #options: OutputStreamOptions;
  #source: ByteSource | undefined;
  #unsubscribe: (() => void) | undefined;
  #reading = false;

  constructor(options: OutputStreamOptions) {
    super({ highWaterMark: CHUNK_BYTES });
    this.#options = options;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    openSource(this.#options).then(
      (source) => {
        this.#source = source;
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  override _read(size: number): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#pump(size).catch((error: unknown) => this.destroy(error as Error));
  }

  async #pump(size: number): Promise<void> {
    const source = this.#source;
    if (source === undefined || this.destroyed) return;
    const { signal, follow } = this.#options;
    // Both are read before the file: output written before the job ended is on disk by the
    // time `ended` is true, so "ended and nothing more to read" really means the end.
    const seenVersion = signal.version;
    const endedBeforeRead = signal.ended;
    const chunk = await source.next(Math.max(size, CHUNK_BYTES));
    this.#reading = false;
    if (this.destroyed) return;
    if (chunk !== undefined) {
      this.push(chunk);
      return;
    }
    if (!follow || endedBeforeRead) {
      this.push(null);
      return;
    }
    this.#reading = true;
    this.#unsubscribe = signal.onChangeSince(seenVersion, () => {
      this.#unsubscribe = undefined;
      this.#reading = false;
      if (!this.destroyed) this._read(size);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#unsubscribe?.();
    const source = this.#source;
    this.#source = undefined;
    (source?.close() ?? Promise.resolve()).then(
      () => callback(error),
      () => callback(error),
    );
  }
}

async function openSource(options: OutputStreamOptions): Promise<ByteSource> {
  const log = await open(join(options.dir, OUTPUT_LOG), 'r');
  if (options.select === 'all') return new WholeLog(log, options.offset);
  try {
    const index = await open(join(options.dir, OUTPUT_INDEX), 'r');
    return new OneStream(log, index, options.select === 'stderr', options.offset);
  } catch (error) {
    await log.close();
    throw error;
  }
}

class WholeLog implements ByteSource {
  readonly #log: FileHandle;
  #position: number;

  constructor(log: FileHandle, offset: number) {
    this.#log = log;
    this.#position = offset;
  }

  async next(maxBytes: number): Promise<Buffer | undefined> {
    const buffer = Buffer.allocUnsafe(maxBytes);
    const { bytesRead } = await this.#log.read(buffer, 0, maxBytes, this.#position);
    if (bytesRead === 0) return undefined;
    this.#position += bytesRead;
    return buffer.subarray(0, bytesRead);
  }

  async close(): Promise<void> {
    await this.#log.close();
  }
}

class OneStream implements ByteSource {
  readonly #log: FileHandle;
  readonly #index: FileHandle;
  readonly #wantStderr: boolean;
  /** Bytes of the selected stream still to skip to honour the requested offset. */
  #skip: number;
  #indexPosition = 0;
  /** Offset in output.log where the next unread index record's chunk starts. */
  #chunkStart = 0;
  /** The part of the current chunk still to deliver. */
  #pendingAt = 0;
  #pendingBytes = 0;
  #records: Buffer = Buffer.alloc(0);

  constructor(log: FileHandle, index: FileHandle, wantStderr: boolean, offset: number) {
    this.#log = log;
    this.#index = index;
    this.#wantStderr = wantStderr;
    this.#skip = offset;
  }

  async next(maxBytes: number): Promise<Buffer | undefined> {
    while (this.#pendingBytes === 0) {
      if (!(await this.#takeRecord())) return undefined;
    }
    const length = Math.min(maxBytes, this.#pendingBytes);
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.#log.read(buffer, 0, length, this.#pendingAt);
    if (bytesRead === 0) return undefined;
    this.#pendingAt += bytesRead;
    this.#pendingBytes -= bytesRead;
    return buffer.subarray(0, bytesRead);
  }

  /** Moves to the next index record; false if none is complete on disk yet. */
  async #takeRecord(): Promise<boolean> {
    if (this.#records.length < RECORD_BYTES && !(await this.#loadRecords())) return false;
    const record = this.#records.readUInt32LE(0);
    this.#records = this.#records.subarray(RECORD_BYTES);
    this.#indexPosition += RECORD_BYTES;
    const length = record & 0x7fff_ffff;
    const isStderr = (record & STDERR_BIT) !== 0;
    const start = this.#chunkStart;
    this.#chunkStart += length;
    if (isStderr !== this.#wantStderr) return true;
    const skipped = Math.min(this.#skip, length);
    this.#skip -= skipped;
    this.#pendingAt = start + skipped;
    this.#pendingBytes = length - skipped;
    return true;
  }

  async #loadRecords(): Promise<boolean> {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await this.#index.read(buffer, 0, CHUNK_BYTES, this.#indexPosition);
    // Only whole records count: the writer may be half-way through the next one.
    const whole = bytesRead - (bytesRead % RECORD_BYTES);
    this.#records = buffer.subarray(0, whole);
    return whole > 0;
  }

  async close(): Promise<void> {
    await Promise.all([this.#log.close(), this.#index.close()]);
  }
}
