// The /v1/jobs routes. Each handler reads like the API documentation: check the role, parse the
// input, ask the registry, shape the answer. Errors are thrown and mapped in problem.ts. Below
// the handlers, each route's OpenAPI operation and audit action (the attach route's are in
// attach.ts).
import Router from '@koa/router';
import {
  attachQuery,
  LISTED_ARGS_CHARACTERS,
  listQuery,
  outputQuery,
  startQuery,
} from '../../contract/jobs.ts';
import { JOB_TRAILERS, TRAILER_HEADER } from '../../contract/job-trailers.ts';
import { MULTIPLEXED_STREAM } from '../../contract/multiplexed-stream.ts';
import { ENDED_STATUSES } from '../../jobs/job-status.ts';
import { ForbiddenError, InvalidRequestError, JobNotFoundError } from '../../errors.ts';
import { allowSlowBody } from '../../tls/connection-limits.ts';
import type { Job, JobFilter } from '../../jobs/job.ts';
import type { JobRegistry, Viewer } from '../../worker/registry.ts';
import { parseRfc3339 } from '../../worker/output-times.ts';
import type { LimitPolicy } from '../../policy/limit-policy.ts';
import { Attacher, type OutputStart } from './attach.ts';
import { abortWhenClosed } from '../jobs/client-gone.ts';
import { receiveInput } from '../jobs/job-input.ts';
import { parseJobRequest } from '../jobs/job-request.ts';
import type { FollowerBudget } from '../jobs/follower-budget.ts';
import { BYTES_PER_REQUEST, listingBody, ListingTurns } from '../jobs/job-listing.ts';
import { streamOutput, UNOBSERVED, type OutputObserver } from '../jobs/output-answer.ts';
import type { ListCursors } from '../jobs/list-cursor.ts';
import { readJsonBody } from '../http/json-body.ts';
import { lingerAfterRefusal } from '../http/lingering-close.ts';
import { parseQuery } from '../http/query.ts';
import type { ClientRateLimit } from '../middleware/rate-limit.ts';
import { may, type Action } from '../permissions.ts';
import type { AppContext, AppState } from '../state.ts';
import { json, problem, ref, requestId, success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import { queryParameters } from '../openapi/schemas.ts';
import type { Header, MediaType } from '../openapi/types.ts';
import type { RouteDeclaration } from '../route-declaration.ts';

const ATTACH_WITH_INPUT = "attach to another client's job with its input (?stdin=false watches)";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function jobsRouter(
  registry: JobRegistry,
  limits: LimitPolicy,
  followers: FollowerBudget,
  cursors: ListCursors,
  rateLimit: Pick<ClientRateLimit, 'charge' | 'owedMs'>,
  /** Throws VolumeNotFoundError unless the client has the volume (the volume manager's get). */
  checkVolume: (client: string, name: string) => unknown,
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
      // Before it is queued: a volume it names must be the caller's (404 as for none at all).
      for (const { name } of spec.volumes) checkVolume(viewer.name, name);
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

// ---- What the routes declare: their OpenAPI operations and audit actions ------------------

const jobLocation: Header = {
  description: 'the new job: `/v1/jobs/{id}`',
  required: true,
  schema: { type: 'string', pattern: '^/v1/jobs/[0-9a-f-]{36}$' },
};

const noStore: Header = { description: 'output is never cached', schema: { const: 'no-store' } };

const varyAccept: Header = {
  description: 'the media type of the output depends on `Accept`',
  schema: { const: 'Accept' },
};

/** How the multiplexed output is framed: the operations' descriptions say it. */
const FRAMES =
  "Docker's frames: an 8-byte header (the stream, 1 stdout or 2 stderr; three zero bytes; the " +
  "payload's length as a big-endian uint32), then the payload, in the order the worker read them " +
  '(each stream in its own order; across the two only with `"stderr": "merged"`, which makes ' +
  'all of it stdout)';

/** Both streams told apart in one body, for a client whose `Accept` prefers it (raw bytes). */
const MULTIPLEXED_OUTPUT: Readonly<Record<string, MediaType>> = { [MULTIPLEXED_STREAM]: {} };

const START_JOB = operation({
  operationId: 'startJob',
  summary: 'Start a job',
  description:
    'Runs a command (an argv array, never a shell line) under its own supervisor, cgroup and ' +
    "namespaces. With `?follow=true` the response is the job's output, streamed until the job " +
    'ends, like `ssh host cmd`; how it ended (status, exit code, signal, out of memory) follows ' +
    'as HTTP trailers. ' +
    'The output is its bytes, or with `Accept: ' +
    MULTIPLEXED_STREAM +
    '` its stdout and stderr told apart, as `jobctl run -f` reads it: ' +
    FRAMES +
    '.',
  tag: 'jobs',
  action: 'start',
  parameters: queryParameters(startQuery),
  requestBody: {
    description: 'what to run; only `command` is required',
    required: true,
    content: {
      'application/json': {
        schema: ref('schemas', 'JobRequest'),
        example: {
          command: 'make',
          args: ['-j2', 'test'],
          env: { CI: 'true' },
          cwd: '/tmp',
          limits: { cpus: 0.5, memory: '256M', pids: 128 },
          timeout: '10m',
        },
      },
    },
  },
  responses: {
    201: {
      description:
        'the job was started: its record, or with `?follow=true` its output until it ends, ' +
        `followed by the trailers ${Object.values(JOB_TRAILERS)
          .map((name) => `\`${name}\``)
          .join(', ')}`,
      headers: {
        ...requestId,
        Location: jobLocation,
        'Job-Id': {
          description: "with `?follow=true`: the job's id, since the body is its output",
          schema: { type: 'string', format: 'uuid' },
        },
        'Job-Queue-Position': {
          description:
            "with `?follow=true`, for a job that waits to start: its place in its client's queue",
          schema: { type: 'string', pattern: '^[1-9][0-9]*$' },
        },
        Trailer: {
          description: 'with `?follow=true`: the trailers that follow the output',
          schema: { const: TRAILER_HEADER },
        },
        'Cache-Control': noStore,
        Vary: varyAccept,
      },
      content: {
        'application/json': { schema: ref('schemas', 'Job') },
        'application/octet-stream': {},
        ...MULTIPLEXED_OUTPUT,
      },
      'x-trailers': {
        [JOB_TRAILERS.status]: {
          description: 'how the job ended',
          required: true,
          schema: { enum: [...ENDED_STATUSES] },
        },
        [JOB_TRAILERS.exitCode]: {
          description: 'its exit code; empty when it has none',
          required: true,
          schema: { type: 'string', pattern: '^(0|[1-9][0-9]*)?$' },
        },
        [JOB_TRAILERS.signal]: {
          description: 'the signal that ended it, e.g. SIGKILL; empty when none did',
          required: true,
          schema: { type: 'string', pattern: '^(SIG[A-Z0-9+-]+)?$' },
        },
        [JOB_TRAILERS.oomKilled]: {
          description: 'whether the kernel killed a process of the job for want of memory',
          required: true,
          schema: { enum: ['true', 'false'] },
        },
        [JOB_TRAILERS.error]: {
          description:
            "why it ended, when its owner did not end it (the job's `error`: a queued job's command that could not run, a timeout, an OOM kill, a revoked certificate, the disk floor, the output budget); empty otherwise. The same text ends the body's stderr as a line of its own, after `jobworker: `. Characters outside printable ASCII are written `\\u{hex}`",
          required: true,
          schema: { type: 'string' },
        },
      },
    },
    400: ref('responses', 'InvalidJobRequest'),
    404: problem(
      404,
      "a volume it names (`volumes`) does not exist or is another client's: the two answers are identical",
      ['VOLUME_NOT_FOUND'],
    ),
    413: ref('responses', 'PayloadTooLarge'),
    415: ref('responses', 'UnsupportedMediaType'),
    422: ref('responses', 'CommandCannotRun'),
    429: ref('responses', 'TooManyRequestsOrJobs'),
    507: ref('responses', 'InsufficientStorage'),
  },
});

const LIST_JOBS = operation({
  operationId: 'listJobs',
  summary: 'List jobs',
  description:
    "The jobs the caller may see, newest first: its own, or every client's for admins and " +
    "auditors. A user never learns that another client's job exists. One page at a time: " +
    'when there are more, the `Link` header (RFC 8288) names the next page, whose opaque ' +
    '`cursor` is valid only for this client and these filters. Paging while jobs are added ' +
    'and deleted returns every job that existed throughout exactly once. An entry is the ' +
    "job's record, except that args longer together than " +
    `${LISTED_ARGS_CHARACTERS} characters are cut (\`argsTruncated\`). The answer is sent a ` +
    'few jobs at a time as the client reads it, and costs its request rate one request per ' +
    `${BYTES_PER_REQUEST / 1024} KiB of the records it reads, past the first: while the ` +
    "client's budget is spent, its other requests get 429 and its listings wait to read on.",
  tag: 'jobs',
  action: 'read',
  parameters: queryParameters(listQuery),
  responses: {
    200: success('the jobs', json(ref('schemas', 'JobList')), {
      Link: {
        description: 'when there are more jobs: `<URL of the next page>; rel="next"`',
        schema: { type: 'string', pattern: '^<[^>]+>; rel="next"$' },
      },
    }),
    400: ref('responses', 'InvalidQuery'),
  },
});

const GET_JOB = operation({
  operationId: 'getJob',
  summary: 'Get a job',
  description: 'One job the caller may see.',
  tag: 'jobs',
  action: 'read',
  parameters: [ref('parameters', 'JobId')],
  responses: {
    200: success('the job', json(ref('schemas', 'Job'))),
    404: ref('responses', 'JobNotFound'),
  },
});

const STOP_JOB = operation({
  operationId: 'stopJob',
  summary: 'Stop a job',
  description:
    'SIGTERM to the whole process tree, SIGKILL after the grace period. Idempotent while the ' +
    'job is stopping. Users may stop their own jobs only.',
  tag: 'jobs',
  action: 'stop',
  parameters: [ref('parameters', 'JobId')],
  responses: {
    202: success(
      'the stop is under way: the job, `stopping` or already ended by it',
      json(ref('schemas', 'Job')),
    ),
    404: ref('responses', 'JobNotFound'),
    409: ref('responses', 'JobAlreadyEnded'),
  },
});

const WRITE_JOB_INPUT = operation({
  operationId: 'writeJobInput',
  summary: "Write to a job's input",
  description:
    'Streams the request body into the standard input of a job started with `"stdin": true` ' +
    '(`curl -T - .../stdin` pipes a file or a command into it). The body is read as fast as the ' +
    "job reads, for as long as it takes; its end is the end of the job's input (EOF; a " +
    "terminal job's EOF character), after " +
    'which no more input is taken. A writer that goes away before the end of its body leaves ' +
    'the input open for the next; one writer at a time. A queued job is waited for. Only the ' +
    "job's owner may write to it; input is never logged or kept, the audit trail records that " +
    'it was sent, by whom and how many bytes.',
  tag: 'jobs',
  action: 'input',
  parameters: [ref('parameters', 'JobId')],
  requestBody: {
    required: true,
    description:
      "the bytes for the job's standard input, of any length; the media type is not checked",
    // Raw bytes of no bounded length (OpenAPI 3.1: a media type without a schema).
    content: { 'application/octet-stream': {} },
  },
  responses: {
    204: success("the whole body was written and the job's input has ended"),
    404: ref('responses', 'JobNotFound'),
    409: problem(
      409,
      '`JOB_ALREADY_ENDED`: the job has ended; `INPUT_NOT_OPEN`: it was not started with ' +
        '`"stdin": true`; `INPUT_CLOSED`: a writer ended its input, or it no longer reads it ' +
        '(exited, or closed it); `INPUT_BUSY`: another request is writing to it. The connection ' +
        'is closed after this answer: the rest of the body is not read',
      ['INPUT_BUSY', 'INPUT_CLOSED', 'INPUT_NOT_OPEN', 'JOB_ALREADY_ENDED'],
    ),
  },
});

const DELETE_JOB = operation({
  operationId: 'deleteJob',
  summary: 'Delete a job',
  description: 'Deletes an ended job and its output. Users may delete their own jobs only.',
  tag: 'jobs',
  action: 'delete',
  parameters: [ref('parameters', 'JobId')],
  responses: {
    204: success('the job and its output are gone'),
    404: ref('responses', 'JobNotFound'),
    409: ref('responses', 'JobStillRunning'),
  },
});

const GET_JOB_OUTPUT = operation({
  operationId: 'getJobOutput',
  summary: "Read a job's output",
  description:
    'The output recorded so far, from its first byte (or `offset`). With `?follow=true` the ' +
    'response stays open and streams new output until the job ends; any number of readers may ' +
    'follow the same job. With `stream=all` and `Accept: ' +
    MULTIPLEXED_STREAM +
    '` the two streams come told apart: ' +
    FRAMES +
    '.',
  tag: 'jobs',
  action: 'read',
  parameters: [ref('parameters', 'JobId'), ...queryParameters(outputQuery)],
  responses: {
    200: success(
      'the output bytes, or both streams in frames',
      { 'application/octet-stream': {}, ...MULTIPLEXED_OUTPUT },
      { 'Cache-Control': noStore, Vary: varyAccept },
    ),
    400: ref('responses', 'InvalidQuery'),
    404: ref('responses', 'JobNotFound'),
    410: ref('responses', 'OutputUnavailable'),
    429: ref('responses', 'TooManyRequestsOrFollowers'),
  },
});

/** In the document's order; the router above serves them under its `/v1/jobs` prefix. */
export const JOB_ROUTES: readonly RouteDeclaration[] = [
  { method: 'post', path: '/v1/jobs', operation: START_JOB, audit: 'job.start' },
  { method: 'get', path: '/v1/jobs', operation: LIST_JOBS },
  { method: 'get', path: '/v1/jobs/{id}', operation: GET_JOB },
  { method: 'delete', path: '/v1/jobs/{id}', operation: DELETE_JOB, audit: 'job.delete' },
  { method: 'post', path: '/v1/jobs/{id}/stop', operation: STOP_JOB, audit: 'job.stop' },
  { method: 'get', path: '/v1/jobs/{id}/output', operation: GET_JOB_OUTPUT, audit: 'job.output' },
  { method: 'put', path: '/v1/jobs/{id}/stdin', operation: WRITE_JOB_INPUT, audit: 'job.input' },
];
