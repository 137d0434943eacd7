// One structured log line per request, written when the response is finished (or the client
// went away), so streamed responses are logged with their real duration. Also assigns the
// request id that problem bodies and logs share.
import { randomUUID } from 'node:crypto';
import type { Next } from 'koa';
import type { AppContext } from '../state.ts';
import type { Logger } from 'pino';
import { traceIdOf } from './trace-context.ts';

export interface FinishedRequest {
  readonly method: string;
  /** The route pattern, never the raw path, so its values stay few (metrics label by it). */
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
}

export function requestLog(
  logger: Logger,
  onFinished: (request: FinishedRequest) => void = () => undefined,
) {
  return async function logRequest(ctx: AppContext, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    const traceId = traceIdOf(ctx.get('traceparent'));
    ctx.state.requestId = requestId;
    ctx.state.traceId = traceId;
    ctx.state.log = logger.child({ requestId, traceId });
    ctx.set('X-Request-Id', requestId);
    ctx.res.once('close', () => {
      const identity = ctx.state.identity as AppContext['state']['identity'] | undefined;
      const matchedRoute = (ctx as AppContext & { _matchedRoute?: string })._matchedRoute;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const line = {
        client: identity?.name,
        role: identity?.role,
        method: ctx.method,
        route: matchedRoute ?? ctx.path,
        ...(ctx.state.job === undefined ? {} : { jobId: ctx.state.job.id }),
        status: ctx.status,
        durationMs,
        completed: ctx.res.writableFinished,
      };
      onFinished({
        method: ctx.method,
        route: matchedRoute ?? '(unmatched)',
        status: ctx.status,
        durationMs,
      });
      const log = logger.child({ requestId, traceId });
      if (ctx.status >= 500) log.error(line, 'request');
      else log.info(line, 'request');
    });
    await next();
  };
}
