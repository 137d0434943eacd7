// GET /v1/jobs/{id}/attach: the job's owner attaches to it over a WebSocket, or anyone who may
// read it watches (attach-session.ts has the channels). Everything that can be refused is refused
// before the switch of protocols, as an ordinary problem+json answer, and before anything is
// taken for the session; a queued job is waited for, as a writer of its input is. What a session
// holds (a follower slot, the job's input, its output reader) is let go when its connection
// closes, however that happens.
import type { IncomingMessage } from 'node:http';
import { WebSocketServer } from 'ws';
import { ATTACH_PROTOCOL } from '../../contract/attach-channels.ts';
import { attachQuery } from '../../contract/jobs.ts';
import { CodedError, InvalidRequestError, UpgradeRequiredError } from '../../errors.ts';
import type { Job } from '../../jobs/job.ts';
import type { OutputChunkStream } from '../../worker/output-stream.ts';
import type { JobInput, JobRegistry, Viewer } from '../../worker/registry.ts';
import { runAttachSession } from '../jobs/attach-session.ts';
import { abortWhenClosed } from '../jobs/client-gone.ts';
import type { FollowerBudget } from '../jobs/follower-budget.ts';
import type { AppContext } from '../state.ts';
import { takeUpgrade } from '../http/upgrades.ts';
import { problem, ref, success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import { queryParameters } from '../openapi/schemas.ts';
import type { RouteDeclaration } from '../route-declaration.ts';

/** The largest message a client may send: input comes in pieces, resizes are tiny. */
const MAX_MESSAGE_BYTES = 1024 * 1024;
/** RFC 6455: the key is 16 random bytes in base64; version 13 is the protocol's. */
const WEBSOCKET_KEY = /^[A-Za-z0-9+/]{22}==$/;
/** A connection silent this long (no pong either) is taken for dead, and its input let go. */
const PING_INTERVAL_MS = 30_000;

export interface AttachOptions {
  readonly registry: JobRegistry;
  readonly followers: FollowerBudget;
  readonly viewer: Viewer;
  readonly job: Job;
  /** Where the output starts. */
  readonly start: OutputStart;
  /** Take the job's input (when it has one); false to only watch. */
  readonly stdin: boolean;
}

/**
 * `start`: all of the output; `now`: only what comes next; `tail`: at most `bytes` before the end
 * of the whole output (both streams as written), so a large output's last screen arrives without
 * the rest.
 */
export type OutputStart =
  | { readonly from: 'start' }
  | { readonly from: 'now' }
  | { readonly from: 'tail'; readonly bytes: number };

export class Attacher {
  readonly #sockets = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(ATTACH_PROTOCOL) ? ATTACH_PROTOCOL : false),
  });
  /** The headers the app gave each upgrade (request id, rate limit), for its 101. */
  readonly #answerHeaders = new WeakMap<IncomingMessage, string[]>();

  constructor() {
    this.#sockets.on('headers', (headers, request) => {
      headers.push(...(this.#answerHeaders.get(request) ?? []));
    });
  }

  async attach(ctx: AppContext, options: AttachOptions): Promise<void> {
    const { registry, followers, viewer, job } = options;
    const upgrade = takeUpgrade(ctx.req);
    if (upgrade === undefined || ctx.get('Upgrade').toLowerCase() !== 'websocket') {
      throw new UpgradeRequiredError('attach is a WebSocket: send Upgrade: websocket');
    }
    checkHandshake(ctx);
    const release = followers.take(viewer.name);
    let input: JobInput | undefined;
    let output: OutputChunkStream | undefined;
    // Whatever ends the connection (the session, or ws refusing the handshake) lets go once.
    let held = true;
    const letGo = (): void => {
      if (!held) return;
      held = false;
      release();
      input?.stream.destroy();
      output?.destroy();
    };
    try {
      input = options.stdin ? await takeInput(registry, viewer, job, ctx) : undefined;
      const offset = await startOffset(registry, viewer, job, options.start);
      output = registry.outputChunks(viewer, job.id, { offset, follow: true });
    } catch (error) {
      letGo();
      throw error;
    }
    // Set by now (a failure above rethrows); a const, for the session's callback.
    const reader = output;
    upgrade.socket.once('close', letGo);
    // A peer that vanished without a word (a laptop asleep) must not hold the input for ever.
    upgrade.socket.setKeepAlive(true, PING_INTERVAL_MS);
    ctx.respond = false;
    ctx.status = 101;
    const log = ctx.state.log;
    this.#answerHeaders.set(
      ctx.req,
      Object.entries(ctx.response.headers).map(([name, value]) => `${name}: ${String(value)}`),
    );
    this.#sockets.handleUpgrade(ctx.req, upgrade.socket, upgrade.head, (socket) => {
      void runAttachSession({
        socket,
        job,
        input,
        output: reader,
        // Only the owner, who may write to the job, may resize its terminal.
        resize: options.stdin ? (size) => registry.resize(viewer, job.id, size) : undefined,
        ended: () => registry.whenEnded(viewer, job.id),
        pingIntervalMs: PING_INTERVAL_MS,
        log,
      }).finally(letGo);
    });
  }
}

/** What ws would refuse with a bare 400 of its own is refused here, as a problem. */
function checkHandshake(ctx: AppContext): void {
  const problems: { field: string; message: string }[] = [];
  if (!WEBSOCKET_KEY.test(ctx.get('Sec-WebSocket-Key'))) {
    problems.push({ field: 'Sec-WebSocket-Key', message: 'must be 16 bytes in base64' });
  }
  if (ctx.get('Sec-WebSocket-Version') !== '13') {
    problems.push({ field: 'Sec-WebSocket-Version', message: 'must be 13' });
  }
  const offered = ctx
    .get('Sec-WebSocket-Protocol')
    .split(',')
    .map((name) => name.trim());
  if (!offered.includes(ATTACH_PROTOCOL)) {
    problems.push({ field: 'Sec-WebSocket-Protocol', message: `must offer ${ATTACH_PROTOCOL}` });
  }
  if (problems.length > 0) {
    const summary = problems.map((problem) => `${problem.field}: ${problem.message}`).join('; ');
    throw new InvalidRequestError(`not a WebSocket handshake for attach: ${summary}`, problems);
  }
}

/**
 * The job's input, if it can still take any. A job that has ended, or whose input was ended or
 * is no longer read, is attached to without it (its output and end are still worth showing);
 * another writer holding the input is a refusal.
 */
async function takeInput(
  registry: JobRegistry,
  viewer: Viewer,
  job: Job,
  ctx: AppContext,
): Promise<JobInput | undefined> {
  if (!job.stdin) return undefined;
  const gone = abortWhenClosed(ctx.req.socket);
  try {
    return await registry.openInput(viewer, job.id, gone.signal);
  } catch (error) {
    const code = error instanceof CodedError ? error.code : undefined;
    if (code === 'JOB_ALREADY_ENDED' || code === 'INPUT_CLOSED') return undefined;
    throw error;
  } finally {
    gone.release();
  }
}

/** Where the job's output starts, in bytes of the whole output, from its size now when needed. */
async function startOffset(
  registry: JobRegistry,
  viewer: Viewer,
  job: Job,
  start: OutputStart,
): Promise<number> {
  if (start.from === 'start') return 0;
  const { all } = await registry.outputSizes(viewer, job.id);
  return start.from === 'now' ? all : Math.max(0, all - start.bytes);
}

// ---- What the routes declare: their OpenAPI operations and audit actions ------------------

const ATTACH_JOB = operation({
  operationId: 'attachJob',
  summary: 'Attach to a job (WebSocket)',
  description:
    "A WebSocket (RFC 6455; `Upgrade: websocket`, subprotocol `v5.channel.k8s.io`) carrying the job's " +
    'output, input and terminal size, for interactive use (`jobctl run -it`, `jobctl attach`). ' +
    'Every binary message starts with its channel: `0` client to job, bytes for its input; `1` and ' +
    "`2` job to client, its stdout and stderr, in the order the worker read them (a terminal's " +
    'output is all on `1`); `3` job to ' +
    'client, once it has ended, `{"status", "exitCode", "signal"}` as JSON, after which the ' +
    'socket closes; `4` client to job, `{"Width": cols, "Height": rows}`, a new size of its ' +
    "terminal; `255` followed by `0` client to job, the end of its input (a terminal's EOF " +
    'character). Output flows as fast as the client reads it and input as fast as the job ' +
    'reads it. A client that closes the socket leaves the job running and its input open, to ' +
    'attach again. With input (`stdin=true`, the default) only the owner may attach; to watch ' +
    '(`stdin=false`) needs only what reading the job does, so admins and auditors may watch ' +
    "any client's job. Never from another site's page (the " +
    'cross-site rule applies, since any page may open a WebSocket). `tailBytes` starts near ' +
    "the end of the whole output, for a page that shows a large output's last screen. A queued job " +
    'is waited for. One attached client at a time holds the input; others may attach with ' +
    '`?stdin=false` to watch, or follow the output (`GET .../output`). A client that stops ' +
    'answering pings is cut off within a minute, and the input let go.',
  tag: 'jobs',
  action: 'read',
  parameters: [ref('parameters', 'JobId'), ...queryParameters(attachQuery)],
  responses: {
    101: success('switching to the WebSocket', undefined, {
      Upgrade: { description: '`websocket`', required: true, schema: { const: 'websocket' } },
      'Sec-WebSocket-Protocol': {
        description: 'the channel protocol',
        required: true,
        schema: { const: ATTACH_PROTOCOL },
      },
    }),
    400: ref('responses', 'InvalidQuery'),
    403: problem(
      403,
      "`FORBIDDEN`: with input (`stdin=true`, the default), another client's job, or a role " +
        'that may not write to jobs (attach with `?stdin=false` to watch); ' +
        "`CROSS_SITE_REQUEST`: from another site's page (Sec-Fetch-Site or Origin); " +
        "`CLIENT_DISABLED`: the server's identity policy disables the client",
      ['CLIENT_DISABLED', 'CROSS_SITE_REQUEST', 'FORBIDDEN'],
    ),
    404: ref('responses', 'JobNotFound'),
    409: problem(
      409,
      '`INPUT_BUSY`: another client is attached to the job or writing its input (attach with ' +
        '`?stdin=false` to only watch). A job that has ended, or whose input has, is attached ' +
        'to without input: its output and end are still sent',
      ['INPUT_BUSY'],
    ),
    426: problem(426, 'a plain request: attach is a WebSocket', ['UPGRADE_REQUIRED']),
    429: ref('responses', 'TooManyRequestsOrFollowers'),
  },
});

export const ATTACH_ROUTES: readonly RouteDeclaration[] = [
  { method: 'get', path: '/v1/jobs/{id}/attach', operation: ATTACH_JOB, audit: 'job.attach' },
];
