// GET /metrics: the Prometheus exposition, for admins and auditors (scrapers authenticate with a
// client certificate of one of those roles, like any other client).
import Router from '@koa/router';
import { ForbiddenError } from '../../errors.ts';
import { may } from '../permissions.ts';
import type { AppState } from '../state.ts';
import { success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import type { RouteDeclaration } from '../route-declaration.ts';

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

// ---- What the route declares: its OpenAPI operation ----------------------------------------

const GET_METRICS = operation({
  operationId: 'getMetrics',
  summary: 'Prometheus metrics',
  description:
    'Requests, jobs by status, output served and readers open, in the Prometheus text format. ' +
    'Scrapers authenticate with a client certificate like any other client.',
  tag: 'service',
  action: 'metrics',
  responses: {
    200: success('the exposition', {
      'text/plain; version=0.0.4': { schema: { type: 'string' } },
    }),
  },
});

export const METRICS_ROUTES: readonly RouteDeclaration[] = [
  { method: 'get', path: '/metrics', operation: GET_METRICS },
];
