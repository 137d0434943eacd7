// The answer that is a job's output: its bytes, or both streams told apart in Docker's frames
// (contract/multiplexed-stream.ts), streamed as the client reads them and counted as served,
// with how the job ended as HTTP trailers when the request started it (POST /v1/jobs?follow).
import { Transform, pipeline, type Readable } from 'node:stream';
import { JOB_TRAILERS, TRAILER_HEADER, WORKER_LINE_PREFIX } from '../../contract/job-trailers.ts';
import { MULTIPLEXED_STREAM, frameHeader } from '../../contract/multiplexed-stream.ts';
import type { Job } from '../../jobs/job.ts';
import type { OutputChunk } from '../../worker/output-stream.ts';
import type { JobRegistry, OutputRequest, Viewer } from '../../worker/registry.ts';
import type { AppContext } from '../state.ts';

/** What the routes report about output being read; metrics implement it. */
export interface OutputObserver {
  readerOpened(): void;
  readerClosed(): void;
  outputServed(bytes: number): void;
}

export const UNOBSERVED: OutputObserver = {
  readerOpened: () => undefined,
  readerClosed: () => undefined,
  outputServed: () => undefined,
};

/**
 * Streams a job's output as the response body, counting what is served. With `trailers`, how the
 * job ended (status, exit code, signal, out of memory) follows the last byte as HTTP trailers, so
 * one request can run a command the way `ssh host cmd` does and still report how it ended. A
 * client that asks for both streams multiplexed gets them told apart
 * (contract/multiplexed-stream.ts); any other gets the bytes.
 */
export function streamOutput(
  ctx: AppContext,
  registry: JobRegistry,
  viewer: Viewer,
  job: Job,
  request: OutputRequest & { readonly times?: TimesRequest },
  options: { trailers: boolean; observer: OutputObserver; release: () => void },
): void {
  const { observer, trailers, release } = options;
  const multiplexed = request.select === 'all' && asksForMultiplexed(ctx);
  let output: Readable;
  try {
    output = request.times
      ? registry.timedOutput(viewer, job.id, {
          select: request.select,
          offset: request.offset,
          follow: request.follow,
          ...(request.times.sinceNanos === undefined
            ? {}
            : { sinceNanos: request.times.sinceNanos }),
          timestamps: request.times.timestamps,
          asBytes: !multiplexed,
        })
      : multiplexed
        ? registry.outputChunks(viewer, job.id, { offset: request.offset, follow: request.follow })
        : registry.output(viewer, job.id, request);
  } catch (error) {
    release();
    throw error;
  }
  ctx.type = multiplexed ? MULTIPLEXED_STREAM : 'application/octet-stream';
  ctx.vary('Accept');
  ctx.set('Cache-Control', 'no-store');
  if (trailers) ctx.set('Trailer', TRAILER_HEADER);
  const body = new Transform({
    // One piece of output waits here, as in the reader: a client that stops reading holds up
    // one 64 KiB piece, not the 16 an object-mode stream would take in by default.
    ...(multiplexed ? { writableObjectMode: true, writableHighWaterMark: 1 } : {}),
    transform(chunk: Buffer | OutputChunk, _encoding, callback) {
      if (Buffer.isBuffer(chunk)) {
        observer.outputServed(chunk.length);
        return callback(null, chunk);
      }
      observer.outputServed(chunk.bytes.length);
      this.push(frameHeader(chunk.stream, chunk.bytes.length));
      callback(null, chunk.bytes);
    },
    flush(callback) {
      if (!trailers) return callback();
      registry.whenEnded(viewer, job.id).then(
        (ended) => {
          // The reason, where the owner did not end it, is the last line of its stderr as well
          // as a trailer: curl -v does not show trailers.
          if (ended.error !== null) {
            const line = Buffer.from(`${WORKER_LINE_PREFIX}${ended.error}\n`);
            if (multiplexed) this.push(frameHeader('stderr', line.length));
            this.push(line);
          }
          ctx.res.addTrailers({
            [JOB_TRAILERS.status]: ended.status,
            [JOB_TRAILERS.exitCode]: ended.exitCode === null ? '' : String(ended.exitCode),
            [JOB_TRAILERS.signal]: ended.signal ?? '',
            [JOB_TRAILERS.oomKilled]: String(ended.oomKilled),
            [JOB_TRAILERS.error]: fieldValueOf(ended.error ?? ''),
          });
          callback();
        },
        (error: unknown) => callback(error as Error),
      );
    },
  });
  observer.readerOpened();
  body.once('close', () => {
    observer.readerClosed();
    release();
  });
  // pipeline, not pipe: when the client goes away Koa destroys the body, and the reader behind
  // it must be destroyed too so it releases its file handles.
  pipeline(output, body, () => undefined);
  ctx.body = body;
  // The status and headers go now, not with the first byte of output, which may be minutes
  // away: the client learns the job's id at once, to send it input or stop it.
  ctx.flushHeaders();
}

/** `since` and `timestamps` of GET /v1/jobs/{id}/output. */
interface TimesRequest {
  readonly sinceNanos: bigint | undefined;
  readonly timestamps: boolean;
}

/**
 * Text as an HTTP field value: visible ASCII and spaces, anything else (a command's control
 * characters or UTF-8) as a `\u{...}` escape, so the trailer can always be sent.
 */
function fieldValueOf(text: string): string {
  return text.replace(
    /[^\x20-\x7e]/gu,
    (char) => `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`,
  );
}

/** `Accept` prefers the multiplexed stream to plain bytes (curl's any type gets the bytes). */
function asksForMultiplexed(ctx: AppContext): boolean {
  return ctx.accepts('application/octet-stream', MULTIPLEXED_STREAM) === MULTIPLEXED_STREAM;
}
