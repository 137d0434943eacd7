// Records every job action (start with its argv and limits, stop, output read, delete) and every
// authentication or authorization denial in the audit trail, with who asked (name, role, and the
// certificate's serial and fingerprint), what happened and how it ended. Runs outside the problem
// mapping, so it sees the status the client actually got.
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Next } from 'koa';
import type { AuditClient, AuditEvent, AuditOutcome } from '../../contract/audit.ts';
import type { Job } from '../../jobs/job.ts';
import { specPartOf } from '../../jobs/job-spec.ts';
import { peerCertificate } from '../../tls/peer-certificate.ts';
import type { AppContext } from '../state.ts';

/** Where records go; the API does not know how they are signed or stored. */
export interface AuditSink {
  record(event: AuditEvent): void;
}

/**
 * A list longer than this in a start's record (its arguments, its environment variable names),
 * in bytes of JSON, is recorded as its start, its size and its SHA-256 instead: the trail says
 * what ran, and the job's record (GET /v1/jobs/{id}) has the rest, which the hash pins. Whole,
 * 250 jobs of `true` with a 60,000-byte argument grew the trail by 19 MiB.
 */
const AUDIT_LIST_BYTES = 1024;

/** What a request to a route that acts on a job is recorded as; each route declares its own. */
export type JobAuditAction =
  'job.start' | 'job.stop' | 'job.output' | 'job.input' | 'job.attach' | 'job.delete';

/** What a request to a route that acts on a volume is recorded as (issue 34). */
export type VolumeAuditAction =
  'volume.create' | 'volume.delete' | 'volume.upload' | 'volume.download';

/** Every action a route may declare. */
export type RouteAuditAction = JobAuditAction | VolumeAuditAction;

/** A route as it declares its audit action (route-declaration.ts). */
interface AuditedRoute {
  readonly method: string;
  /** As OpenAPI writes it: `/v1/jobs/{id}`. */
  readonly path: string;
  readonly audit?: RouteAuditAction;
}

/** `routes`: every route the app serves, those that act on a job declaring their action. */
export function auditTrail(sink: AuditSink, routes: readonly AuditedRoute[]) {
  const actions = jobActionsOf(routes);
  return async function audit(ctx: AppContext, next: Next): Promise<void> {
    try {
      await next();
    } finally {
      const event = auditEventOf(ctx, actions);
      if (event !== undefined) sink.record(event);
    }
  };
}

/** The routes' actions by `METHOD /matched/:route`, as the router names the route it matched. */
function jobActionsOf(routes: readonly AuditedRoute[]): ReadonlyMap<string, RouteAuditAction> {
  return new Map(
    routes.flatMap(({ method, path, audit }) =>
      audit === undefined
        ? []
        : [[`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`, audit] as const],
    ),
  );
}

function auditEventOf(
  ctx: AppContext,
  actions: ReadonlyMap<string, RouteAuditAction>,
): AuditEvent | undefined {
  const route = (ctx as AppContext & { _matchedRoute?: string })._matchedRoute?.replace(/\/$/, '');
  const jobAction = route === undefined ? undefined : actions.get(`${ctx.method} ${route}`);
  const denied = ctx.status === 401 || ctx.status === 403;
  if (jobAction === undefined && !denied) return undefined;
  const job = ctx.state.job;
  return {
    action: jobAction ?? 'auth.denied',
    outcome: outcomeOf(ctx.status),
    status: ctx.status,
    client: clientOf(ctx),
    // A refused action (another client's job is a 404, a role's a 403) names the job asked for.
    jobId: job?.id ?? requestedJobId(ctx),
    requestId: ctx.state.requestId,
    traceId: ctx.state.traceId,
    details: detailsOf(jobAction, ctx, job),
  };
}

/** The id in the path, as the client sent it (bounded: it may be any string). */
function requestedJobId(ctx: AppContext): string | null {
  const id = (ctx as AppContext & { params?: Record<string, string | undefined> }).params?.id;
  return id === undefined ? null : id.slice(0, 64);
}

function outcomeOf(status: number): AuditOutcome {
  if (status === 401 || status === 403) return 'denied';
  return status < 400 ? 'allowed' : 'failed';
}

function detailsOf(
  action: RouteAuditAction | undefined,
  ctx: AppContext,
  job: Job | undefined,
): Record<string, unknown> {
  if (action === undefined) return { method: ctx.method, path: ctx.path.slice(0, 256) };
  // Which volume and how: a new one's size, an archive's path and what an upload sent; never
  // the files themselves.
  if (action.startsWith('volume.')) return { ...ctx.state.volume };
  if (action === 'job.start' && job !== undefined) {
    // What it asked for, as its record keeps it (jobs/job-spec.ts): every field, without a list
    // here to keep up. Environment values may be secrets: the record, and so the trail, keeps
    // their names.
    return {
      ...auditedSpecOf(job),
      // `queued` when it waits for a slot or memory; its start is a `job.dequeue` record.
      startedAs: job.status,
      follow: ctx.query.follow === 'true' || ctx.query.follow === '1',
    };
  }
  // Labels name what a job belongs to ("pipeline=4711"): every record of a job carries them,
  // so the trail of one pipeline can be read without knowing its job ids.
  const labels =
    job === undefined || Object.keys(job.labels).length === 0 ? {} : { labels: job.labels };
  if (action === 'job.input') {
    // That input was sent, how much and whether it ended: never what it was.
    const input = ctx.state.input;
    return {
      ...(input === undefined ? {} : { bytes: input.bytes, ended: input.kind === 'ended' }),
      ...labels,
    };
  }
  // The query says how: which stream and from where; for an attach, whether it took the input
  // or only watched (which another client's admin or auditor may).
  if (action === 'job.output' || action === 'job.attach') {
    return { query: Object.fromEntries(Object.entries(ctx.query).slice(0, 8)), ...labels };
  }
  return labels;
}

/** A job's spec as a start's record has it: each list of strings whole or as its digest. */
function auditedSpecOf(job: Job): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(specPartOf(job)).flatMap(([field, value]: [string, unknown]) =>
      isStringList(value) ? Object.entries(listOrDigest(field, value)) : [[field, value]],
    ),
  );
}

function isStringList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * `{ [name]: list }`, or for a list of more than AUDIT_LIST_BYTES `{ [name + 'Digest']: ... }`:
 * the items that fit in that many bytes (the last one cut short), how many items there are, and
 * the length and SHA-256 (hex) of the whole list as JSON in UTF-8, as the job's record has it.
 */
function listOrDigest(name: string, list: readonly string[]): Record<string, unknown> {
  const json = Buffer.from(JSON.stringify(list));
  if (json.length <= AUDIT_LIST_BYTES) return { [name]: list };
  return {
    [`${name}Digest`]: {
      head: headOf(list, AUDIT_LIST_BYTES),
      count: list.length,
      bytes: json.length,
      sha256: createHash('sha256').update(json).digest('hex'),
    },
  };
}

/** The first items of a list, within `budget` bytes of UTF-8; the last one cut at a character. */
function headOf(list: readonly string[], budget: number): string[] {
  const head: string[] = [];
  let left = budget;
  for (const item of list) {
    if (left <= 0) break;
    const bytes = Buffer.byteLength(item);
    if (bytes <= left) {
      head.push(item);
      left -= bytes;
      continue;
    }
    let cut = '';
    for (const character of item) {
      left -= Buffer.byteLength(character);
      if (left < 0) break;
      cut += character;
    }
    head.push(cut);
    break;
  }
  return head;
}

function clientOf(ctx: AppContext): AuditClient {
  const identity = ctx.state.identity as AppContext['state']['identity'] | undefined;
  const certificate = peerCertificate(ctx.req.socket as TLSSocket);
  const commonName = certificate?.subject.CN;
  return {
    name: identity?.name ?? (typeof commonName === 'string' ? commonName : null),
    role: identity?.role ?? null,
    serial: certificate?.serialNumber ?? null,
    fingerprint256: certificate?.fingerprint256 ?? null,
  };
}
