// GET /v1/jobs/{id}/attach: the job's owner attaches to it over a WebSocket (attach-session.ts
// has the channels). Everything that can be refused is refused before the switch of protocols,
// as an ordinary problem+json answer; a queued job is waited for, as a writer of its input is.
import type { IncomingMessage } from 'node:http';
import { WebSocketServer } from 'ws';
import { InvalidRequestError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import type { JobRegistry, OutputRequest, Viewer } from '../worker/registry.ts';
import { ATTACH_PROTOCOL, CHANNEL } from '../contract/attach-channels.ts';
import { runAttachSession, type AttachedOutput } from './attach-session.ts';
import type { FollowerBudget } from './follower-budget.ts';
import { RouteError } from './problem.ts';
import type { AppContext } from './state.ts';
import { takeUpgrade } from './upgrades.ts';

/** The largest message a client may send: input comes in pieces, resizes are tiny. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface AttachOptions {
  readonly registry: JobRegistry;
  readonly followers: FollowerBudget;
  readonly viewer: Viewer;
  readonly job: Job;
  /** Where the output starts: 0 for all of it, the job's output size for what comes next. */
  readonly offset: number;
}

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
      throw new RouteError('UPGRADE_REQUIRED', 'attach is a WebSocket: send Upgrade: websocket');
    }
    const offered = ctx
      .get('Sec-WebSocket-Protocol')
      .split(',')
      .map((name) => name.trim());
    if (!offered.includes(ATTACH_PROTOCOL)) {
      throw new InvalidRequestError(`expected the WebSocket subprotocol ${ATTACH_PROTOCOL}`, [
        { field: 'Sec-WebSocket-Protocol', message: `must offer ${ATTACH_PROTOCOL}` },
      ]);
    }
    const release = followers.take(viewer.name);
    let input;
    let outputs: AttachedOutput[];
    try {
      input = job.stdin ? await registry.openInput(viewer, job.id, closedSignal(ctx)) : undefined;
      outputs = outputsOf(job).map(({ channel, select }) => ({
        channel,
        stream: registry.output(viewer, job.id, { select, offset: options.offset, follow: true }),
      }));
    } catch (error) {
      release();
      input?.stream.destroy();
      throw error;
    }
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
        outputs,
        resize: (size) => registry.resize(viewer, job.id, size),
        ended: () => registry.whenEnded(viewer, job.id),
        log,
      }).finally(release);
    });
  }
}

/** A terminal's output is one stream; a job without one keeps stdout and stderr apart. */
function outputsOf(
  job: Job,
): { channel: AttachedOutput['channel']; select: OutputRequest['select'] }[] {
  if (job.tty !== null) return [{ channel: CHANNEL.stdout, select: 'all' }];
  return [
    { channel: CHANNEL.stdout, select: 'stdout' },
    { channel: CHANNEL.stderr, select: 'stderr' },
  ];
}

/** Aborts when the client goes away while the attach waits for a queued job. */
function closedSignal(ctx: AppContext): AbortSignal {
  const controller = new AbortController();
  ctx.req.socket.once('close', () => controller.abort(new Error('the client went away')));
  return controller.signal;
}
