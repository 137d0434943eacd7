// Reading the audit trail: GET /v1/audit for admins and auditors, with filters, and the public
// key set anyone authenticated may fetch to verify records offline.
import Router from '@koa/router';
import type { JWK } from 'jose';
import type { AuditQuery } from '../audit/audit-log.ts';
import { auditQuery, type SignedAuditRecord } from '../contract/audit.ts';
import { ForbiddenError } from '../errors.ts';
import { parseQuery } from './query.ts';
import { may } from './permissions.ts';
import type { AppState } from './state.ts';

export interface AuditReader {
  query(filter: AuditQuery): Promise<SignedAuditRecord[]>;
  readonly jwks: { keys: JWK[] };
}

export function auditRouter(reader: AuditReader): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/v1/audit', async (ctx) => {
    const { role } = ctx.state.identity;
    if (!may(role, 'audit')) throw new ForbiddenError('read the audit trail', role);
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

  router.get('/.well-known/jwks.json', (ctx) => {
    ctx.body = reader.jwks;
  });

  return router;
}
