// GET /metrics: the Prometheus exposition, for admins and auditors (scrapers authenticate with a
// client certificate of one of those roles, like any other client).
import Router from '@koa/router';
import { ForbiddenError } from '../../errors.ts';
import { may } from '../permissions.ts';
import type { AppState } from '../state.ts';

export interface MetricsSource {
  readonly contentType: string;
  exposition(): Promise<string>;
}

export function metricsRouter(source: MetricsSource): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/metrics', async (ctx) => {
    const { role } = ctx.state.identity;
    if (!may(role, 'metrics')) throw new ForbiddenError('read metrics', role);
    ctx.type = source.contentType;
    ctx.body = await source.exposition();
  });
  return router;
}
