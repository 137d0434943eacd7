// Reading the audit trail: GET /v1/audit for admins and auditors, with filters, GET
// /v1/audit/verify for them to check the whole chain on the server, and the public key set anyone
// authenticated may fetch to verify records offline.
import Router from '@koa/router';
import type { JWK } from 'jose';
import type { AuditQuery } from '../../audit/audit-log.ts';
import { auditQuery, type AuditVerdict, type SignedAuditRecord } from '../../contract/audit.ts';
import { ForbiddenError } from '../../errors.ts';
import { parseQuery } from '../http/query.ts';
import { may } from '../permissions.ts';
import type { AppContext, AppState } from '../state.ts';
import { json, ref, success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import { queryParameters } from '../openapi/schemas.ts';
import type { RouteDeclaration } from '../route-declaration.ts';

export interface AuditReader {
  query(filter: AuditQuery): Promise<SignedAuditRecord[]>;
  /** The verdict on the whole chain and its signed head, as they stood when it was asked for. */
  verify(): Promise<AuditVerdict>;
  readonly jwks: { keys: JWK[] };
}

export function auditRouter(reader: AuditReader): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/v1/audit', async (ctx) => {
    authorizeAudit(ctx);
    const query = parseQuery(auditQuery, ctx.query);
    const records = await reader.query({
      client: query.client,
      jobId: query.job,
      since: query.since === undefined ? undefined : new Date(query.since),
      until: query.until === undefined ? undefined : new Date(query.until),
      limit: query.limit,
    });
    ctx.body = { records };
  });

  // A broken chain is a 200 all the same: the request succeeded, the chain did not.
  router.get('/v1/audit/verify', async (ctx) => {
    authorizeAudit(ctx);
    ctx.body = await reader.verify();
  });

  router.get('/.well-known/jwks.json', (ctx) => {
    ctx.body = reader.jwks;
  });

  return router;
}

/** Verifying is reading the whole trail: refused with the same problem as the listing. */
function authorizeAudit(ctx: AppContext): void {
  const { role } = ctx.state.identity;
  if (!may(role, 'audit')) throw new ForbiddenError('read the audit trail', role);
}

// ---- What the routes declare: their OpenAPI operations ------------------------------------

const LIST_AUDIT_RECORDS = operation({
  operationId: 'listAuditRecords',
  summary: 'Read the audit trail',
  description:
    'Signed, hash-chained records of every job action and every refused client, newest first: ' +
    'the last `limit` records that match every filter given.',
  tag: 'audit',
  action: 'audit',
  parameters: queryParameters(auditQuery),
  responses: {
    200: success('the matching records', json(ref('schemas', 'AuditRecordList'))),
    400: ref('responses', 'InvalidQuery'),
  },
});

const VERIFY_AUDIT_LOG = operation({
  operationId: 'verifyAuditLog',
  summary: 'Verify the audit trail',
  description:
    'Checks the whole chain on the server, as `npm run audit -- verify` does offline: every ' +
    "record's signature, its sequence number and link to the one before, and the signed head " +
    'that says how many records there are. The chain is checked as it stood when the request ' +
    'came: records appended meanwhile are left to the next check. A broken chain is still a ' +
    '`200`, with `ok: false` and the first bad record.',
  tag: 'audit',
  action: 'audit',
  responses: { 200: success('the verdict', json(ref('schemas', 'AuditVerdict'))) },
});

const GET_JWKS = operation({
  operationId: 'getJwks',
  summary: "The audit trail's public keys",
  description: 'The Ed25519 keys that verify audit records (their `jws`) offline.',
  tag: 'audit',
  responses: { 200: success('the key set', json(ref('schemas', 'JsonWebKeySet'))) },
});

/** Reading the trail is not itself recorded in it. */
export const AUDIT_ROUTES: readonly RouteDeclaration[] = [
  { method: 'get', path: '/v1/audit', operation: LIST_AUDIT_RECORDS },
  { method: 'get', path: '/v1/audit/verify', operation: VERIFY_AUDIT_LOG },
  { method: 'get', path: '/.well-known/jwks.json', operation: GET_JWKS },
];
