// GET /v1/limits: what the caller's role may ask for when it starts a job, for a form to show and
// to bound its inputs. Built from the same policy and the same defaulting functions that
// parseJobRequest applies, so a request within these bounds is not refused for its limits.
import Router from '@koa/router';
import { LIMIT_KINDS } from '../../jobs/job.ts';
import type { Limits } from '../../contract/limits.ts';
import type { Role } from '../../pki/roles.ts';
import {
  defaultLimitsOf,
  defaultNetworkOf,
  defaultSandboxOf,
  defaultTimeoutOf,
  networkAllowed,
  type LimitPolicy,
} from '../../policy/limit-policy.ts';
import { may } from '../permissions.ts';
import type { AppState } from '../state.ts';
import { json, ref, success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import type { RouteDeclaration } from '../route-declaration.ts';

export function limitsRouter(policy: LimitPolicy): Router<AppState> {
  const router = new Router<AppState>();
  // Every role may read its own: it is the caller's role and client only, never another's usage.
  router.get('/v1/limits', (ctx) => {
    ctx.body = limitsOf(policy, ctx.state.identity.role);
  });
  return router;
}

function limitsOf(policy: LimitPolicy, role: Role): Limits {
  const { timeoutMs, ...ceilings } = policy.ceilings[role];
  const outputBudget = policy.outputBudgets[role];
  return {
    role,
    mayStart: may(role, 'start'),
    ceilings: { limits: ceilings, timeoutMs: timeoutMs ?? null },
    defaults: {
      limits: defaultLimitsOf(policy, role),
      timeoutMs: defaultTimeoutOf(policy, role) ?? null,
    },
    enforceableLimits: LIMIT_KINDS.filter((kind) => policy.enforceable.has(kind)),
    clientTotals: policy.clientTotals[role],
    outputBudgetBytes: outputBudget ?? null,
    sandbox: {
      private: policy.sandbox.available,
      host: policy.sandbox.hostRoles.has(role),
      default: defaultSandboxOf(policy.sandbox),
    },
    network: {
      egress: networkAllowed(policy.network, 'egress', role),
      host: networkAllowed(policy.network, 'host', role),
      default: defaultNetworkOf(policy.network, role),
    },
  };
}

// ---- What the route declares: its OpenAPI operation ----------------------------------------

const GET_LIMITS = operation({
  operationId: 'getLimits',
  summary: 'What a job may ask for',
  description:
    "The caller's own bounds for `POST /v1/jobs`: its role's ceilings and the defaults a job " +
    'gets for what it does not ask, the limits this host enforces, what all of its running ' +
    'jobs may use together and the output kept for them, and its choices of sandbox and ' +
    'network. Nothing ' +
    'about other clients. A request within these bounds is not refused for its limits ' +
    '(although it may wait in the queue for memory).',
  tag: 'jobs',
  responses: { 200: success("the caller's limits", json(ref('schemas', 'Limits'))) },
});

export const LIMITS_ROUTES: readonly RouteDeclaration[] = [
  { method: 'get', path: '/v1/limits', operation: GET_LIMITS },
];
