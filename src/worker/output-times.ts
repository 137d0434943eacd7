// When a job's output was written: jobshim keeps output.times beside output.log, one 16-byte
// record (a little-endian uint64 offset in output.log where a chunk starts, then the int64
// nanoseconds since the epoch it was read at) for the first chunk of each millisecond, written
// before the chunk. A byte's time is that of the last record at or before it. This module reads
// the file as a cursor that only moves forward, a batch of records at a time, so memory stays one
// batch whatever the output's size, and turns a stream of chunks into the chunks written at or
// after a time (`since`) and/or lines prefixed with their time (`timestamps`), as `docker logs`
// gives them.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { JOB_FILE_NAMES } from '../jobs/job-directory.ts';
import type { OutputChunk, StreamName } from './output-stream.ts';

export const OUTPUT_TIMES = JOB_FILE_NAMES.outputTimes;

const TIME_RECORD_BYTES = 16;
const BATCH_BYTES = 64 * 1024;

/** A position in output.log and the time its chunk was read, in nanoseconds since the epoch. */
interface TimeRecord {
  readonly offset: number;
  readonly nanos: bigint;
}

/** The records of output.times in order, read forward as positions are asked for. */
class TimesCursor {
  readonly #file: FileHandle | undefined;
  #filePosition = 0;
  #batch: TimeRecord[] = [];
  #batchAt = 0;
  #current: TimeRecord | undefined;

  constructor(file: FileHandle | undefined) {
    this.#file = file;
  }

  /** The time of the byte at `position` of output.log; undefined for a job without times. */
  async timeAt(position: number): Promise<bigint | undefined> {
    for (;;) {
      const next = await this.#peek();
      if (next === undefined || next.offset > position) return this.#current?.nanos;
      this.#current = next;
      this.#batchAt += 1;
    }
  }

  async #peek(): Promise<TimeRecord | undefined> {
    if (this.#batchAt < this.#batch.length) return this.#batch[this.#batchAt];
    if (this.#file === undefined) return undefined;
    const buffer = Buffer.allocUnsafe(BATCH_BYTES);
    const { bytesRead } = await this.#file.read(buffer, 0, BATCH_BYTES, this.#filePosition);
    // Only whole records: jobshim may be half-way through writing the next one.
    const whole = bytesRead - (bytesRead % TIME_RECORD_BYTES);
    this.#filePosition += whole;
    this.#batch = [];
    this.#batchAt = 0;
    for (let at = 0; at < whole; at += TIME_RECORD_BYTES) {
      this.#batch.push({
        offset: Number(buffer.readBigUInt64LE(at)),
        nanos: buffer.readBigInt64LE(at + 8),
      });
    }
    return this.#batch[0];
  }

  async close(): Promise<void> {
    await this.#file?.close();
  }
}

async function openTimes(dir: string): Promise<TimesCursor> {
  try {
    return new TimesCursor(await open(join(dir, OUTPUT_TIMES), 'r'));
  } catch (error) {
    // Jobs recorded before times were kept have none: they are shown without.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new TimesCursor(undefined);
    throw error;
  }
}

export interface TimedOutputOptions {
  /** Drop the chunks read before this time (nanoseconds since the epoch). */
  readonly sinceNanos?: bigint;
  /** Start each line with its chunk's time in RFC 3339 with nanoseconds, and a space. */
  readonly timestamps: boolean;
  /** Give plain bytes (the whole output as written) instead of chunks with their stream. */
  readonly asBytes: boolean;
}

/**
 * A Transform from the chunks of a job's output (each with its position in output.log) to those
 * written at or after `sinceNanos`, with each line's time when asked. Lines are told apart per
 * stream, so a stderr line between two pieces of a stdout line does not split it.
 */
export function timedOutput(dir: string, options: TimedOutputOptions): Transform {
  const cursor = openTimes(dir);
  const atLineStart: Record<StreamName, boolean> = { stdout: true, stderr: true };
  let reachedSince = options.sinceNanos === undefined;
  return new Transform({
    objectMode: true,
    highWaterMark: 1,
    transform(chunk: OutputChunk, _encoding, callback) {
      cursor
        .then((times) => times.timeAt(chunk.position))
        .then((nanos) => {
          // Times only grow (one clock, read in order), so once one chunk is late enough all are.
          if (!reachedSince && nanos !== undefined && nanos < (options.sinceNanos ?? 0n)) {
            return callback();
          }
          reachedSince = true;
          const bytes = options.timestamps ? withTimes(chunk, nanos, atLineStart) : chunk.bytes;
          callback(null, options.asBytes ? bytes : { ...chunk, bytes });
        })
        .catch((error: unknown) => callback(error as Error));
    },
    destroy(error, callback) {
      cursor.then(
        (times) => times.close().finally(() => callback(error)),
        () => callback(error),
      );
    },
  });
}

function withTimes(
  chunk: OutputChunk,
  nanos: bigint | undefined,
  atLineStart: Record<StreamName, boolean>,
): Buffer {
  const prefix = Buffer.from(`${nanos === undefined ? '-' : rfc3339Nanos(nanos)} `);
  const pieces: Buffer[] = [];
  let from = 0;
  while (from < chunk.bytes.length) {
    if (atLineStart[chunk.stream]) pieces.push(prefix);
    const newline = chunk.bytes.indexOf(0x0a, from);
    const to = newline === -1 ? chunk.bytes.length : newline + 1;
    pieces.push(chunk.bytes.subarray(from, to));
    atLineStart[chunk.stream] = newline !== -1;
    from = to;
  }
  return Buffer.concat(pieces);
}

/** `2026-12-07T18:10:00.123456789Z`: RFC 3339 in UTC with nanoseconds, as docker prints it. */
export function rfc3339Nanos(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n;
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch of an RFC 3339 time (`2026-12-07T18:10:00.5Z`), or undefined. */
export function parseRfc3339(text: string): bigint | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [, dateTime = '', fraction = '', zone = 'Z'] = match;
  const millis = Date.parse(`${dateTime.replace(/[t ]/, 'T')}${zone.toUpperCase()}`);
  if (Number.isNaN(millis)) return undefined;
  return BigInt(millis) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}
