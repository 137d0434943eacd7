// The readers of jobs' output, and the signals that wake them: a running job's comes from its
// supervisor, a queued or starting job's is kept here until it is handed to the job at launch,
// and an ended job's says at once that there is no more. Who may read is the registry's concern;
// this module is given jobs it has already checked.
import { closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import type { Job } from '../jobs/job.ts';
import { OutputUnavailableError } from '../errors.ts';
import { LargeReadLeases } from './large-read-leases.ts';
import { endedSignal, OutputSignal } from './output-signal.ts';
import {
  OUTPUT_INDEX,
  OUTPUT_LOG,
  OutputChunkStream,
  OutputStream,
  outputSizes,
  type OutputSelection,
} from './output-stream.ts';
import { timedOutput, type TimedOutputOptions } from './output-times.ts';
import type { OutputRequest } from './registry-options.ts';

export type ChunksRequest = Omit<OutputRequest, 'select'> & {
  readonly select?: OutputSelection;
};

export interface JobOutputsOptions {
  readonly jobDir: (id: string) => string;
  /** The signal of a job its supervisor runs now; undefined for any other. */
  readonly supervisedSignal: (id: string) => OutputSignal | undefined;
}

export class JobOutputs {
  readonly #options: JobOutputsOptions;
  /** Output signals of queued jobs that someone follows, handed to the job when it starts. */
  readonly #waiting = new Map<string, OutputSignal>();
  /** Shared by this registry's output readers: few of them read large pieces at once. */
  readonly #largeReads = new LargeReadLeases();

  constructor(options: JobOutputsOptions) {
    this.#options = options;
  }

  /** The output signal of a job: its supervisor's, a queued job's own, or an ended one's. */
  signalOf(job: Job): OutputSignal {
    const supervised = this.#options.supervisedSignal(job.id);
    if (supervised !== undefined) return supervised;
    // A job being launched has no supervisor yet: it is followed like a queued one.
    if (job.status !== 'queued' && job.status !== 'starting') return endedSignal();
    let waiting = this.#waiting.get(job.id);
    if (waiting === undefined) {
      waiting = new OutputSignal();
      this.#waiting.set(job.id, waiting);
    }
    return waiting;
  }

  /** The signal followers of a job not yet launched wait on, now the job's to keep. */
  takeWaiting(id: string): OutputSignal | undefined {
    const signal = this.#waiting.get(id);
    this.#waiting.delete(id);
    return signal;
  }

  /** A job that will never run: its followers read what there is and stop. */
  endWaiting(id: string): void {
    this.#waiting.get(id)?.end();
    this.#waiting.delete(id);
  }

  /** Throws OutputUnavailableError when the job's output files are gone or unreadable. */
  async assertReadable(id: string): Promise<void> {
    const dir = this.#options.jobDir(id);
    try {
      await Promise.all([
        access(join(dir, OUTPUT_LOG), constants.R_OK),
        access(join(dir, OUTPUT_INDEX), constants.R_OK),
      ]);
    } catch (error) {
      throw new OutputUnavailableError(id, error);
    }
  }

  /** How much output each stream of a job has so far, to read from there on. */
  sizes(id: string): Promise<Record<OutputSelection, number>> {
    return outputSizes(this.#options.jobDir(id));
  }

  /** A job's output as bytes; `reader` is the client reading, for its large-read leases. */
  bytes(job: Job, reader: string, request: OutputRequest): Readable {
    return new OutputStream({
      dir: this.#options.jobDir(job.id),
      signal: this.signalOf(job),
      leases: { pool: this.#largeReads, reader },
      ...request,
    });
  }

  /** A job's output in the order it was written, each piece with its stream. */
  chunks(job: Job, request: ChunksRequest): OutputChunkStream {
    return new OutputChunkStream({
      dir: this.#options.jobDir(job.id),
      signal: this.signalOf(job),
      terminal: job.tty !== null,
      ...request,
    });
  }

  /** `chunks` from `sinceNanos` on and/or each line with its time (output-times.ts). */
  timed(job: Job, chunks: OutputChunkStream, options: TimedOutputOptions): Readable {
    const { sinceNanos, timestamps, asBytes } = options;
    const timed = timedOutput(this.#options.jobDir(job.id), {
      ...(sinceNanos === undefined ? {} : { sinceNanos }),
      timestamps,
      asBytes,
    });
    // Torn down together: a client that goes away closes the reader and its files.
    pipeline(chunks, timed, () => undefined);
    return timed;
  }

  /** What a running job's supervisor has written so far (one stat of the output file). */
  liveBytes(id: string): number | undefined {
    try {
      return statSync(join(this.#options.jobDir(id), OUTPUT_LOG)).size;
    } catch {
      return undefined;
    }
  }
}

/** Resolves once `signal` says its job has ended. */
export function untilEnded(signal: OutputSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const check = (): void => {
      if (signal.ended) resolve();
      else signal.onChangeSince(signal.version, check);
    };
    check();
  });
}

/**
 * Empty output files exist from the start, so readers never race the supervisor's first write.
 * Made synchronously, on purpose: a new directory and two empty files in it never wait on a
 * disk, while each round trip to the thread pool stood on a job's start path, 1-6 ms of it on a
 * busy 2-core host behind the store's fdatasync (bench/README.md, issue #38).
 */
export function createOutputFiles(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const file of [OUTPUT_LOG, OUTPUT_INDEX]) closeSync(openSync(join(dir, file), 'a', 0o600));
}
