// An operation as a route declares it, made whole: the roles that may call it (from the
// permission the route checks), and the answers any operation can give besides its own.
import { ROLES } from '../../pki/roles.ts';
import { may, type Action } from '../permissions.ts';
import { ref } from './components.ts';
import type { Operation, Parameter, Reference, RequestBody, ResponseObject } from './types.ts';

/**
 * Answers any operation can give: authentication, routing, throttling and server faults. An
 * operation's own entry for one of these statuses (a narrower 429, say) is kept.
 */
function withCommonResponses(
  own: Readonly<Record<number, ResponseObject | Reference>>,
  everyRoleMay: boolean,
): Record<string, ResponseObject | Reference> {
  const all: Record<number, ResponseObject | Reference> = {
    // Framing and timing problems, answered before any route is known.
    400: ref('responses', 'MalformedRequest'),
    408: ref('responses', 'RequestTimeout'),
    417: ref('responses', 'ExpectationFailed'),
    431: ref('responses', 'HeadersTooLarge'),
    401: ref('responses', 'Unauthenticated'),
    403: ref('responses', everyRoleMay ? 'ClientDisabledOrCrossSite' : 'Forbidden'),
    405: ref('responses', 'MethodNotAllowed'),
    429: ref('responses', 'TooManyRequests'),
    500: ref('responses', 'InternalError'),
    ...own,
  };
  return Object.fromEntries(
    Object.entries(all).sort(([left], [right]) => Number(left) - Number(right)),
  );
}

export interface OperationSpec {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: 'jobs' | 'volumes' | 'audit' | 'service' | 'console';
  /** The permission the route checks; undefined for routes every authenticated client may use. */
  readonly action?: Action;
  readonly parameters?: readonly (Parameter | Reference)[];
  readonly requestBody?: RequestBody;
  readonly responses: Readonly<Record<number, ResponseObject | Reference>>;
}

export function operation(spec: OperationSpec): Operation {
  const { action } = spec;
  const roles = ROLES.filter((role) => action === undefined || may(role, action));
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: `${spec.description}\n\nRoles: ${roles.join(', ')}.`,
    tags: [spec.tag],
    'x-roles': roles,
    ...(spec.parameters === undefined ? {} : { parameters: spec.parameters }),
    ...(spec.requestBody === undefined ? {} : { requestBody: spec.requestBody }),
    responses: withCommonResponses(spec.responses, roles.length === ROLES.length),
  };
}
