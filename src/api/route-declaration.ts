// What a route declares beside its handler: its method and path, its OpenAPI operation, and the
// action the audit trail records it as (for a route that acts on a job). The OpenAPI document
// and the audit trail are both assembled from these (routes/route-list.ts), so a route's prose
// and its audit action sit in its own module, next to its handler.
import type { RouteAuditAction } from './middleware/audit-trail.ts';
import type { HttpMethod, Operation } from './openapi/types.ts';

export interface RouteDeclaration {
  readonly method: HttpMethod;
  /** As OpenAPI writes it: `/v1/jobs/{id}` (the router's `:id`). */
  readonly path: string;
  readonly operation: Operation;
  /** The audit record of a request to this route; undefined for routes not audited. */
  readonly audit?: RouteAuditAction;
}
