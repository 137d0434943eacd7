// Reads a job's output from disk as a stream, from any byte offset, optionally following it until
// the job ends. The supervisor writes two files per job (see native/jobshim.c):
//   output.log  the bytes of stdout and stderr, interleaved in the order they were read;
//   output.idx  one little-endian uint32 per chunk of output.log, written after the chunk:
//               bit 31 set for stderr, the low 31 bits the chunk's length;
//   output.times when chunks were read (output-times.ts reads it).
// Reading everything as bytes needs only output.log. Reading one stream, or both told apart in
// the order they were written, walks output.idx and picks chunks out of output.log. Memory per
// reader is one chunk, whatever the output's size; a few readers of everything as bytes at a
// time read larger pieces (see LeasedLog).
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type ReadableOptions } from 'node:stream';
import { JOB_FILE_NAMES } from '../jobs/job-directory.ts';
import type { LargeReadLease, LargeReadLeases } from './large-read-leases.ts';
import type { OutputSignal } from './output-signal.ts';

export type OutputSelection = 'all' | 'stdout' | 'stderr';
export type StreamName = 'stdout' | 'stderr';

/** A piece of one stream, as the job wrote it: what an `OutputChunkStream` yields. */
export interface OutputChunk {
  readonly stream: StreamName;
  readonly bytes: Buffer;
  /** Where `bytes` start in output.log: what output.times gives the time of. */
  readonly position: number;
}

export const OUTPUT_LOG = JOB_FILE_NAMES.outputLog;
export const OUTPUT_INDEX = JOB_FILE_NAMES.outputIndex;

const CHUNK_BYTES = 64 * 1024;
/** What a reader holding a large-read lease reads at a time. */
const LARGE_READ_BYTES = 1024 * 1024;
/** Large pieces in a row before a reader gives its lease back, for others to have a turn. */
const LARGE_RUN_PIECES = 64;
/**
 * Small bytes a reader hands on after its last large piece before it gives its lease back.
 * Behind a piece it has not passed on, each stage of a response's pipeline (the reader's own
 * buffer, both sides of the route's Transform, the TLS socket's buffer) takes in at most its
 * highWaterMark, 64 KiB, plus one piece: about 512 KiB for the four. Once twice that has
 * followed the large pieces they have left the pipeline, first in first out.
 */
const DRAIN_BYTES = 1024 * 1024;
const RECORD_BYTES = 4;
const STDERR_BIT = 0x8000_0000;

export interface OutputReadOptions {
  readonly dir: string;
  /** Byte offset within the selected output to start from. */
  readonly offset: number;
  /** Keep reading until the job ends instead of stopping at the current end. */
  readonly follow: boolean;
  readonly signal: OutputSignal;
}

export interface OutputStreamOptions extends OutputReadOptions {
  readonly select: OutputSelection;
  /**
   * The server's large-read leases, and the client reading (who holds few of them at once,
   * LargeReadLeases.perClient): with them a reader of everything ('all') reads larger pieces
   * while it holds one. One stream is read a record at a time, and jobshim writes none larger
   * than a chunk, so it has no use for them.
   */
  readonly leases?: { readonly pool: LargeReadLeases; readonly reader: string };
}

/**
 * How many bytes each stream has so far: where "from now on" starts in each selection. Walks the
 * index a batch at a time, so a job of many tiny writes costs time here, not memory.
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
    const records = new IndexReader(index);
    for (let batch = await records.batch(); batch !== undefined; batch = await records.batch()) {
      for (let at = 0; at < batch.length; at += RECORD_BYTES) {
        const { stream, length } = recordAt(batch, at);
        sizes[stream] += length;
      }
    }
  } finally {
    await index.close();
  }
  return { ...sizes, all: sizes.stdout + sizes.stderr };
}

/** Where the next pieces of the output are, one source per way of reading the files. */
interface Source<T> {
  /** The next piece available now (at most `maxBytes`), or undefined if there is none yet. */
  next(maxBytes: number): Promise<T | undefined>;
  close(): Promise<void>;
}

/**
 * A Readable of what a source yields, which at the current end either stops or (following) waits
 * for the job's next output, woken by its OutputSignal rather than by polling.
 */
class FollowingReader<T> extends Readable {
  readonly #open: () => Promise<Source<T>>;
  readonly #follow: boolean;
  readonly #signal: OutputSignal;
  #source: Source<T> | undefined;
  #unsubscribe: (() => void) | undefined;
  #reading = false;

  constructor(options: OutputReadOptions, open: () => Promise<Source<T>>, mode: ReadableOptions) {
    super(mode);
    this.#open = open;
    this.#follow = options.follow;
    this.#signal = options.signal;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#open().then(
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
    const signal = this.#signal;
    // Both are read before the file: output written before the job ended is on disk by the
    // time `ended` is true, so "ended and nothing more to read" really means the end.
    const seenVersion = signal.version;
    const endedBeforeRead = signal.ended;
    // In object mode `size` counts pieces, not bytes: a piece is then at most one chunk.
    const piece = await source.next(Math.max(size, CHUNK_BYTES));
    this.#reading = false;
    if (this.destroyed) return;
    if (piece !== undefined) {
      this.push(piece);
      return;
    }
    if (!this.#follow || endedBeforeRead) {
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

/** The bytes of a selection of the output: everything, or one stream. */
export class OutputStream extends FollowingReader<Buffer> {
  constructor(options: OutputStreamOptions) {
    super(options, () => openBytes(options), { highWaterMark: CHUNK_BYTES });
  }
}

/**
 * Both streams in the order they were written, each piece an `OutputChunk` (object mode) that
 * says which stream it is from. `offset` counts bytes of the whole output.
 */
export class OutputChunkStream extends FollowingReader<OutputChunk> {
  constructor(options: OutputChunkOptions) {
    const open = options.terminal
      ? () => openTerminal(options)
      : () => openIndexed(options.dir, options.select ?? 'all', options.offset);
    // One piece buffered, as the byte stream buffers about one chunk.
    super(options, open, { objectMode: true, highWaterMark: 1 });
  }
}

export interface OutputChunkOptions extends OutputReadOptions {
  /**
   * The job writes to a terminal: its output is one stream, stdout, read straight from
   * output.log. The index would tell nothing more, at one more read per piece, on the path
   * every echoed keystroke takes.
   */
  readonly terminal: boolean;
  /** The streams to read (`all` unless said); `offset` counts bytes of this selection. */
  readonly select?: OutputSelection;
}

async function openTerminal(options: OutputReadOptions): Promise<Source<OutputChunk>> {
  const log = new WholeLog(await open(join(options.dir, OUTPUT_LOG), 'r'), options.offset);
  return {
    next: async (maxBytes) => {
      const position = log.position;
      const bytes = await log.next(maxBytes);
      return bytes === undefined ? undefined : { stream: 'stdout', bytes, position };
    },
    close: () => log.close(),
  };
}

async function openBytes(options: OutputStreamOptions): Promise<Source<Buffer>> {
  if (options.select === 'all') {
    const log = new WholeLog(await open(join(options.dir, OUTPUT_LOG), 'r'), options.offset);
    const leases = options.leases;
    return leases === undefined ? log : new LeasedLog(log, leases.pool, leases.reader);
  }
  const chunks = await openIndexed(options.dir, options.select, options.offset);
  return {
    next: async (maxBytes) => (await chunks.next(maxBytes))?.bytes,
    close: () => chunks.close(),
  };
}

async function openIndexed(
  dir: string,
  select: OutputSelection,
  offset: number,
): Promise<IndexedLog> {
  const log = await open(join(dir, OUTPUT_LOG), 'r');
  try {
    const index = await open(join(dir, OUTPUT_INDEX), 'r');
    return new IndexedLog(log, index, select, offset);
  } catch (error) {
    await log.close();
    throw error;
  }
}

class WholeLog implements Source<Buffer> {
  readonly #log: FileHandle;
  #position: number;
  /** The file's size when last asked; it only grows. */
  #size = 0;

  constructor(log: FileHandle, offset: number) {
    this.#log = log;
    this.#position = offset;
  }

  /** Where the next piece starts in output.log. */
  get position(): number {
    return this.#position;
  }

  async next(maxBytes: number): Promise<Buffer | undefined> {
    const buffer = Buffer.allocUnsafe(maxBytes);
    const { bytesRead } = await this.#log.read(buffer, 0, maxBytes, this.#position);
    if (bytesRead === 0) return undefined;
    this.#position += bytesRead;
    // A short read (a few bytes of a job writing slowly) is copied out: a piece of the buffer
    // would keep all of it alive for as long as the piece is on its way to the client. Into
    // memory of its own, not a slice of Buffer's shared pool, which would keep a slab alive.
    if (bytesRead < maxBytes / 4) {
      return Buffer.from(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + bytesRead));
    }
    return buffer.subarray(0, bytesRead);
  }

  /** Bytes on disk past the read position; asks the file only if it knew of fewer than `wanted`. */
  async ahead(wanted: number): Promise<number> {
    if (this.#size - this.#position < wanted) this.#size = (await this.#log.stat()).size;
    return Math.max(0, this.#size - this.#position);
  }

  async close(): Promise<void> {
    await this.#log.close();
  }
}

/**
 * output.log read LARGE_READ_BYTES at a time while this reader holds one of the server's
 * large-read leases, a chunk at a time otherwise. The FollowingReader pushes each piece this
 * returns at once (or is being destroyed, which closes this), and asks for the next one only when
 * its buffer is below its highWaterMark: what this has returned is what has entered the pipeline.
 *
 * The lease is taken before the first large read and given back when, after the last large
 * piece, DRAIN_BYTES of small ones have followed it (by then the large pieces have left the
 * pipeline), or when this is closed: the pipeline is torn down, its pieces dropped. That keeps
 * the invariant of LargeReadLeases. A large read leaves DRAIN_BYTES on disk unread, and
 * output.log only grows, so the reader cannot reach the end of the file, to stop or to wait
 * there, with large pieces still on their way; giving the lease back there would break it.
 */
class LeasedLog implements Source<Buffer> {
  readonly #log: WholeLog;
  readonly #leases: LargeReadLeases;
  readonly #reader: string;
  #lease: LargeReadLease | undefined;
  /** Large pieces read since the lease was taken. */
  #largePieces = 0;
  /** Holding the lease only until the large pieces are gone: reads small. */
  #draining = false;
  /** Small bytes since the last large piece or the last look for a lease; a new reader looks. */
  #smallBytes = DRAIN_BYTES;
  #closed = false;
  /** When the last piece was handed on, and its size: how fast the client takes them. */
  #handedAt: number | undefined;
  #handedBytes = 0;

  constructor(log: WholeLog, leases: LargeReadLeases, reader: string) {
    this.#log = log;
    this.#leases = leases;
    this.#reader = reader;
  }

  async next(maxBytes: number): Promise<Buffer | undefined> {
    const large = await this.#largeReadBytes(this.#keepingUp());
    const piece = await this.#log.next(large ?? maxBytes);
    this.#handedAt = performance.now();
    this.#handedBytes = piece?.length ?? 0;
    if (piece === undefined) {
      // Only if the file shrank while a lease is held: it is not kept by a reader that may wait
      // here for a long time.
      this.#release();
    } else if (large !== undefined) {
      this.#largePieces += 1;
      this.#smallBytes = 0;
    } else {
      this.#smallBytes += piece.length;
      if (this.#lease !== undefined && this.#smallBytes >= DRAIN_BYTES) this.#release();
    }
    return piece;
  }

  /**
   * Whether the client took the last piece at least as fast as LargeReadLeases asks: the reader
   * is asked for the next piece once the pipeline has room for it again. Until a piece has been
   * handed on (a new reader, or one that waited at the end for more) there is nothing to judge
   * by, and the reader is taken to keep up; the first piece it is slow to take says otherwise.
   */
  #keepingUp(): boolean {
    if (this.#handedAt === undefined || this.#handedBytes === 0) return true;
    const elapsedMs = performance.now() - this.#handedAt;
    return this.#handedBytes >= elapsedMs * this.#leases.keepingUpBytesPerMs;
  }

  /** How much to read next if large, taking a lease for it; undefined to read a chunk. */
  async #largeReadBytes(keepingUp: boolean): Promise<number | undefined> {
    if (this.#lease === undefined) {
      // A reader without one looks only after a stretch of small reads: a stat per MiB at most,
      // and a lease it has just given back goes to another reader that wants one.
      if (!keepingUp || this.#smallBytes < DRAIN_BYTES || this.#leases.available === 0) {
        return undefined;
      }
      this.#smallBytes = 0;
    } else if (this.#draining || !keepingUp || this.#largePieces >= LARGE_RUN_PIECES) {
      this.#draining = true;
      return undefined;
    }
    const ahead = await this.#log.ahead(LARGE_READ_BYTES + DRAIN_BYTES);
    const bytes = Math.min(LARGE_READ_BYTES, ahead - DRAIN_BYTES);
    if (bytes <= CHUNK_BYTES || this.#closed) {
      this.#draining = this.#lease !== undefined;
      return undefined;
    }
    this.#lease ??= this.#leases.tryTake(this.#reader);
    return this.#lease === undefined ? undefined : bytes;
  }

  #release(): void {
    if (this.#lease === undefined) return;
    this.#lease.release();
    this.#lease = undefined;
    this.#draining = false;
    this.#largePieces = 0;
    this.#smallBytes = 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#release();
    await this.#log.close();
  }
}

/** The chunks of the selected streams, in the order of the index, each with its stream. */
class IndexedLog implements Source<OutputChunk> {
  readonly #log: FileHandle;
  readonly #index: FileHandle;
  readonly #records: IndexReader;
  readonly #select: OutputSelection;
  /** Bytes of the selected streams still to skip to honour the requested offset. */
  #skip: number;
  #batch: Buffer = Buffer.alloc(0);
  #batchAt = 0;
  /** Offset in output.log where the next unread index record's chunk starts. */
  #chunkStart = 0;
  /** The part of the current chunk still to deliver, and its stream. */
  #pendingAt = 0;
  #pendingBytes = 0;
  #pendingStream: StreamName = 'stdout';

  constructor(log: FileHandle, index: FileHandle, select: OutputSelection, offset: number) {
    this.#log = log;
    this.#index = index;
    this.#records = new IndexReader(index);
    this.#select = select;
    this.#skip = offset;
  }

  async next(maxBytes: number): Promise<OutputChunk | undefined> {
    while (this.#pendingBytes === 0) {
      if (!(await this.#takeRecord())) return undefined;
    }
    const length = Math.min(maxBytes, this.#pendingBytes);
    const buffer = Buffer.allocUnsafe(length);
    const position = this.#pendingAt;
    const { bytesRead } = await this.#log.read(buffer, 0, length, position);
    if (bytesRead === 0) return undefined;
    this.#pendingAt += bytesRead;
    this.#pendingBytes -= bytesRead;
    return { stream: this.#pendingStream, bytes: buffer.subarray(0, bytesRead), position };
  }

  /** Moves to the next index record; false if none is complete on disk yet. */
  async #takeRecord(): Promise<boolean> {
    if (this.#batchAt >= this.#batch.length) {
      const batch = await this.#records.batch();
      if (batch === undefined) return false;
      this.#batch = batch;
      this.#batchAt = 0;
    }
    const { stream, length } = recordAt(this.#batch, this.#batchAt);
    this.#batchAt += RECORD_BYTES;
    const start = this.#chunkStart;
    this.#chunkStart += length;
    if (this.#select !== 'all' && this.#select !== stream) return true;
    const skipped = Math.min(this.#skip, length);
    this.#skip -= skipped;
    this.#pendingAt = start + skipped;
    this.#pendingBytes = length - skipped;
    this.#pendingStream = stream;
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([this.#log.close(), this.#index.close()]);
  }
}

/** The index's records in order, a batch of whole records at a time. */
class IndexReader {
  readonly #index: FileHandle;
  #position = 0;

  constructor(index: FileHandle) {
    this.#index = index;
  }

  /** The records on disk after the last batch, or undefined if none is complete yet. */
  async batch(): Promise<Buffer | undefined> {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await this.#index.read(buffer, 0, CHUNK_BYTES, this.#position);
    // Only whole records count: the writer may be half-way through the next one.
    const whole = bytesRead - (bytesRead % RECORD_BYTES);
    if (whole === 0) return undefined;
    this.#position += whole;
    return buffer.subarray(0, whole);
  }
}

function recordAt(batch: Buffer, at: number): { stream: StreamName; length: number } {
  const record = batch.readUInt32LE(at);
  return {
    stream: (record & STDERR_BIT) !== 0 ? 'stderr' : 'stdout',
    length: record & ~STDERR_BIT,
  };
}
