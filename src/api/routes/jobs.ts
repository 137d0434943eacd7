// The /v1/jobs routes. Each handler reads like the API documentation: check the role, parse the
// input, ask the registry, shape the answer. Errors are thrown and mapped in problem.ts.
import { Transform, pipeline, type Readable } from 'node:stream';
import Router from '@koa/router';
import { attachQuery, listQuery, outputQuery, startQuery } from '../../contract/jobs.ts';
import { JOB_TRAILERS, TRAILER_HEADER, WORKER_LINE_PREFIX } from '../../contract/job-trailers.ts';
import { MULTIPLEXED_STREAM, frameHeader } from '../../contract/multiplexed-stream.ts';
import { ForbiddenError, InvalidRequestError, JobNotFoundError } from '../../errors.ts';
import { allowSlowBody } from '../../tls/connection-limits.ts';
import type { Job, JobFilter } from '../../jobs/job.ts';
import type { JobRegistry, OutputRequest, Viewer } from '../../worker/registry.ts';
import type { OutputChunk } from '../../worker/output-stream.ts';
import { parseRfc3339 } from '../../worker/output-times.ts';
import type { LimitPolicy } from '../../policy/limit-policy.ts';
import { Attacher, type OutputStart } from './attach.ts';
import { abortWhenClosed } from '../jobs/client-gone.ts';
import { receiveInput } from '../jobs/job-input.ts';
import { parseJobRequest } from '../jobs/job-request.ts';
import type { FollowerBudget } from '../jobs/follower-budget.ts';
import { listingBody, ListingTurns } from '../jobs/job-listing.ts';
import type { ListCursors } from '../jobs/list-cursor.ts';
import { readJsonBody } from '../http/json-body.ts';
import { lingerAfterRefusal } from '../http/lingering-close.ts';
import { parseQuery } from '../http/query.ts';
import type { ClientRateLimit } from '../middleware/rate-limit.ts';
import { may, type Action } from '../permissions.ts';
import type { AppContext, AppState } from '../state.ts';

const ATTACH_WITH_INPUT = "attach to another client's job with its input (?stdin=false watches)";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the routes report about output being read; metrics implement it. */
export interface OutputObserver {
  readerOpened(): void;
  readerClosed(): void;
  outputServed(bytes: number): void;
}

const UNOBSERVED: OutputObserver = {
  readerOpened: () => undefined,
  readerClosed: () => undefined,
  outputServed: () => undefined,
};

export function jobsRouter(
  registry: JobRegistry,
  limits: LimitPolicy,
  followers: FollowerBudget,
  cursors: ListCursors,
  rateLimit: Pick<ClientRateLimit, 'charge' | 'owedMs'>,
  observer: OutputObserver = UNOBSERVED,
): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/v1/jobs' });
  const attacher = new Attacher();
  const listingTurns = new ListingTurns();

  router.post('/', async (ctx) => {
    const viewer = authorize(ctx, 'start');
    const { follow, queue } = parseQuery(startQuery, ctx.query);
    // Taken before the job starts: a client at its budget gets a 429, not a job it cannot watch.
    const release = follow ? followers.take(viewer.name) : undefined;
    const { role } = ctx.state.identity;
    const outputBytes = limits.outputBudgets[role];
    let job: Job;
    try {
      const spec = parseJobRequest(await readJsonBody(ctx), role, limits);
      job = await registry.start(
        viewer.name,
        spec,
        {
          totals: limits.clientTotals[role],
          ...(outputBytes === undefined ? {} : { outputBytes }),
        },
        { queue, clientSerial: ctx.state.certificateSerial },
      );
    } catch (error) {
      release?.();
      throw error;
    }
    ctx.state.job = job;
    ctx.status = 201;
    ctx.set('Location', `/v1/jobs/${job.id}`);
    if (release === undefined) {
      ctx.body = job;
      return;
    }
    ctx.set('Job-Id', job.id);
    // Said at once, with the headers: the output may not start for a long time.
    if (job.status === 'queued' && job.queuePosition !== null) {
      ctx.set('Job-Queue-Position', String(job.queuePosition));
    }
    streamOutput(
      ctx,
      registry,
      viewer,
      job,
      { select: 'all', offset: 0, follow: true },
      { trailers: true, observer, release },
    );
  });

  router.get('/', (ctx) => {
    const viewer = authorize(ctx, 'read');
    const { limit, cursor, ...query } = parseQuery(listQuery, ctx.query);
    const filter: Omit<JobFilter, 'owner'> = {
      ...(query.status === undefined ? {} : { statuses: query.status }),
      ...(query.since === undefined ? {} : { createdSince: new Date(query.since) }),
      ...(query.until === undefined ? {} : { createdUntil: new Date(query.until) }),
      ...(query.label === undefined ? {} : { labels: query.label }),
      ...(query.idPrefix === undefined ? {} : { idPrefix: query.idPrefix }),
    };
    const scope = listingScope(viewer, filter);
    const after = cursor === undefined ? undefined : cursors.open(cursor, scope);
    const page = registry.list(viewer, filter, {
      limit,
      ...(after === undefined ? {} : { after }),
    });
    if (page.next !== undefined) {
      const next = new URLSearchParams(ctx.querystring);
      next.set('cursor', cursors.seal(page.next, scope));
      ctx.set('Link', `<${ctx.path}?${next.toString()}>; rel="next"`);
    }
    ctx.type = 'application/json';
    const body = listingBody(
      {
        positions: page.positions,
        read: (positions) => registry.listed(viewer, positions),
        charge: (requests) => rateLimit.charge(viewer.name, requests),
        waitMs: () => rateLimit.owedMs(viewer.name),
      },
      listingTurns,
    );
    // The status has gone with the first bytes: a failure now can only cut the answer short.
    body.once('error', (error) => {
      ctx.state.log.error({ err: error }, 'listing failed after it began');
      ctx.res.destroy();
    });
    ctx.body = body;
  });

  router.get('/:id', (ctx) => {
    const viewer = authorize(ctx, 'read');
    ctx.state.job = registry.get(viewer, jobId(ctx));
    ctx.body = ctx.state.job;
  });

  router.post('/:id/stop', async (ctx) => {
    const id = jobId(ctx);
    // Existence is checked before the role, so a client that may not stop learns nothing
    // about jobs it cannot see.
    ctx.state.job = registry.get(viewerOf(ctx), id);
    const viewer = authorize(ctx, 'stop');
    ctx.status = 202;
    ctx.body = await registry.stop(viewer, id);
  });

  router.get('/:id/output', async (ctx) => {
    const viewer = authorize(ctx, 'read');
    const { follow, stream, offset, since, timestamps } = parseQuery(outputQuery, ctx.query);
    const sinceNanos = since === undefined ? undefined : parseRfc3339(since);
    if (since !== undefined && sinceNanos === undefined) {
      throw new InvalidRequestError(`invalid query: ?since: '${since}' is not a time`, [
        { field: '?since', message: 'not a time' },
      ]);
    }
    const job = registry.get(viewer, jobId(ctx));
    ctx.state.job = job;
    await registry.assertOutputReadable(job.id);
    // Every open stream counts, followed or not: a slow read of a large output lasts as long.
    const release = followers.take(viewer.name);
    streamOutput(
      ctx,
      registry,
      viewer,
      job,
      {
        select: stream,
        offset,
        follow,
        ...(timestamps || sinceNanos !== undefined ? { times: { sinceNanos, timestamps } } : {}),
      },
      { trailers: false, observer, release },
    );
  });

  router.put('/:id/stdin', async (ctx) => {
    const id = jobId(ctx);
    const job = registry.get(viewerOf(ctx), id);
    ctx.state.job = job;
    const viewer = authorizeOwner(ctx, job, "write to another client's job");
    // As long as the job reads: the body is a stream, not a document that must arrive in time.
    allowSlowBody(ctx.req);
    const gone = abortWhenClosed(ctx.req);
    try {
      const input = await registry.openInput(viewer, id, gone.signal);
      const result = await receiveInput(id, ctx.req, input);
      ctx.state.input = result;
    } catch (error) {
      // A refused writer may still be sending: the rest of its body is read and dropped while
      // the refusal is sent, so the client reads it instead of a reset (lingering-close.ts).
      lingerAfterRefusal(ctx.req);
      throw error;
    } finally {
      gone.release();
    }
    ctx.status = 204;
  });

  router.get('/:id/attach', async (ctx) => {
    const job = registry.get(viewerOf(ctx), jobId(ctx));
    ctx.state.job = job;
    const { from, tailBytes, stdin } = parseQuery(attachQuery, ctx.query);
    // Watching is reading, as following the output is; taking the input is the owner's alone.
    const viewer = stdin ? authorizeOwner(ctx, job, ATTACH_WITH_INPUT) : authorize(ctx, 'read');
    const start: OutputStart =
      tailBytes === undefined ? { from } : { from: 'tail', bytes: tailBytes };
    await attacher.attach(ctx, { registry, followers, viewer, job, start, stdin });
  });

  router.delete('/:id', async (ctx) => {
    const id = jobId(ctx);
    ctx.state.job = registry.get(viewerOf(ctx), id);
    const viewer = authorize(ctx, 'delete');
    await registry.remove(viewer, id);
    ctx.status = 204;
  });

  return router;
}

/** What a cursor is bound to: whose listing, and which jobs it selects. */
function listingScope(viewer: Viewer, filter: Omit<JobFilter, 'owner'>): string {
  const labels = Object.entries(filter.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([
    viewer.name,
    [...(filter.statuses ?? [])].sort(),
    filter.createdSince?.toISOString() ?? null,
    filter.createdUntil?.toISOString() ?? null,
    labels,
    filter.idPrefix ?? null,
  ]);
}

function viewerOf(ctx: AppContext): Viewer {
  const { name, role } = ctx.state.identity;
  return { name, seesAll: may(role, 'seeAll') };
}

/** Input and terminals are the owner's alone: even a role that sees every job gets a 403. */
function authorizeOwner(ctx: AppContext, job: Job, what: string): Viewer {
  const viewer = authorize(ctx, 'input');
  if (job.owner !== viewer.name) throw new ForbiddenError(what, ctx.state.identity.role);
  return viewer;
}

function authorize(ctx: AppContext, action: Action): Viewer {
  const { role } = ctx.state.identity;
  if (!may(role, action)) throw new ForbiddenError(`${action} jobs`, role);
  return viewerOf(ctx);
}

function jobId(ctx: AppContext): string {
  const id = String((ctx as AppContext & { params: Record<string, string> }).params.id);
  // Anything that is not a job id is simply not found: ids never reach the file system unchecked.
  if (!UUID.test(id)) throw new JobNotFoundError(id.slice(0, 64));
  return id;
}

/**
 * Streams a job's output as the response body, counting what is served. With `trailers`, how the
 * job ended (status, exit code, signal, out of memory) follows the last byte as HTTP trailers, so
 * one request can run a command the way `ssh host cmd` does and still report how it ended. A
 * client that asks for both streams multiplexed gets them told apart
 * (contract/multiplexed-stream.ts); any other gets the bytes.
 */
function streamOutput(
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
