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
