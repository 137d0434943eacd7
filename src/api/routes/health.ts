// GET /healthz: liveness, the caller's identity and permissions as the server sees them, and the
// protections this host gives jobs; for admins, how busy the host is.
import Router from '@koa/router';
import type { Health } from '../../contract/health.ts';
import type { Protections } from '../../jobs/protections.ts';
import type { LimitPolicy } from '../../policy/limit-policy.ts';
import type { JobRegistry } from '../../worker/registry.ts';
import { VERSION } from '../../version.ts';
import { json, ref, success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import { permissionsOf } from '../permissions.ts';
import type { RouteDeclaration } from '../route-declaration.ts';
import type { AppState } from '../state.ts';

export function healthRouter(
  registry: Pick<JobRegistry, 'capacity'>,
  limits: LimitPolicy,
  protections: Protections,
): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/healthz', (ctx) => {
    const hostFilesystemRoles = [...limits.sandbox.hostRoles];
    const health: Health = {
      status: 'ok',
      version: VERSION,
      client: ctx.state.identity,
      permissions: permissionsOf(ctx.state.identity.role),
      protections: {
        ...protections,
        sandbox: { ...protections.sandbox, hostFilesystemRoles },
        network: {
          default: limits.network.defaultMode,
          egressRoles: [...limits.network.egressRoles],
          hostRoles: [...limits.network.hostRoles],
        },
      },
      // How busy the host is tells other clients about each other's jobs: admins only.
      ...(ctx.state.identity.role === 'admin' ? { capacity: registry.capacity() } : {}),
    };
    ctx.body = health;
  });
  return router;
}

// ---- What the route declares: its OpenAPI operation ----------------------------------------

const GET_HEALTH = operation({
  operationId: 'getHealth',
  summary: 'Health and protections',
  description:
    "Liveness, the caller's identity as the server sees it, and the protections this host " +
    'gives jobs (cgroups, enforceable limits, namespaces, the account jobs run as, the network ' +
    'modes and the roles that may ask for each).',
  tag: 'service',
  responses: { 200: success('the server is up', json(ref('schemas', 'Health'))) },
});

export const HEALTH_ROUTES: readonly RouteDeclaration[] = [
  { method: 'get', path: '/healthz', operation: GET_HEALTH },
];
