// The Koa application: request log, audit trail and problem mapping first, then identity, then
// routes, and the pages server.ts mounts beside them (the console). It knows the registry's API
// and nothing of how jobs are launched, and reports to metrics and the audit trail through small
// interfaces.
import Koa from 'koa';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import type { Protections } from '../jobs/protections.ts';
import type { JobRegistry } from '../worker/registry.ts';
import { auditRouter, type AuditReader } from './routes/audit.ts';
import { auditTrail, type AuditSink } from './middleware/audit-trail.ts';
import { identify, type IdentityPolicy } from './middleware/identity.ts';
import { imagesRouter, type ImageCatalog } from './routes/images.ts';
import type { LimitPolicy } from '../policy/limit-policy.ts';
import { jobsRouter } from './routes/jobs.ts';
import type { OutputObserver } from './jobs/output-answer.ts';
import { healthRouter } from './routes/health.ts';
import { limitsRouter } from './routes/limits.ts';
import { metricsRouter, type MetricsSource } from './routes/metrics.ts';
import { openApiRouter } from './routes/openapi.ts';
import { volumesRouter, type VolumeRoutesOptions } from './routes/volumes.ts';
import { OPENAPI_DOCUMENT } from './openapi.ts';
import { ROUTES } from './routes/route-list.ts';
import { refuseCrossSiteRequests } from './middleware/cross-site.ts';
import { FollowerBudget } from './jobs/follower-budget.ts';
import { ListCursors } from './jobs/list-cursor.ts';
import { problemDetails } from './problem.ts';
import { ClientRateLimit, type RateLimit } from './middleware/rate-limit.ts';
import { requestLog, type FinishedRequest } from './middleware/request-log.ts';
import { securityHeaders } from './middleware/security-headers.ts';
import { closeUnreadAnswers } from './middleware/unread-answers.ts';
import type { AppState } from './state.ts';

export interface AppOptions {
  readonly registry: JobRegistry;
  readonly logger: Logger;
  readonly limits: LimitPolicy;
  /** The root filesystem images jobs may name (the launcher's ImageStore). */
  readonly images: ImageCatalog;
  readonly protections: Protections;
  readonly identityPolicy?: IdentityPolicy;
  readonly rateLimit: RateLimit;
  /** Output streams one client may hold open at once. */
  readonly followersPerClient: number;
  /** How long an answer may wait for a client that has stopped reading it before it is closed. */
  readonly unreadAnswerMs: number;
  readonly audit: AuditSink & AuditReader;
  /** The clients' volumes and each role's budget of them. */
  readonly volumes: Omit<VolumeRoutesOptions, 'cursors' | 'streams'>;
  /** Seals the cursors of paged listings; kept across restarts so a paging can go on. */
  readonly listCursorKey: Buffer;
  readonly metrics: MetricsSource &
    OutputObserver & { readonly requestFinished: (request: FinishedRequest) => void };
  /**
   * Pages served beside the API, behind the same middleware: the web console, which server.ts
   * mounts (it is a client of the API, which knows nothing of it).
   */
  readonly pages: ServedPages;
}

/** HTML pages on the API's port: their router, and the paths another site may link to. */
export interface ServedPages {
  readonly router: Router<AppState>;
  /** Paths as the router spells them (`/jobs/:id`): a navigation from another site may open them. */
  readonly navigable: readonly string[];
}

export function createApp(options: AppOptions): Koa<AppState> {
  const app = new Koa<AppState>();
  // Errors are answered by problemDetails and logged there; Koa's default handler would print
  // them to stderr a second time.
  app.silent = true;
  app.use(requestLog(options.logger, options.metrics.requestFinished));
  app.use(closeUnreadAnswers(options.unreadAnswerMs));
  app.use(securityHeaders);
  app.use(auditTrail(options.audit, ROUTES));
  app.use(problemDetails);
  app.use(identify(options.identityPolicy));
  // After identity, so the log and the audit trail say whose certificate was used.
  app.use(refuseCrossSiteRequests(options.pages.navigable));
  const rateLimit = new ClientRateLimit(options.rateLimit);
  app.use(rateLimit.middleware);

  const health = healthRouter(options.registry, options.limits, options.protections);

  const followers = new FollowerBudget(options.followersPerClient);
  const cursors = new ListCursors(options.listCursorKey);
  const jobs = jobsRouter(
    options.registry,
    options.limits,
    followers,
    cursors,
    rateLimit,
    (client, name) => options.volumes.volumes.get(client, name),
    options.metrics,
  );
  const volumes = volumesRouter({ ...options.volumes, cursors, streams: followers });
  const limits = limitsRouter(options.limits);
  const images = imagesRouter(options.images);
  const audit = auditRouter(options.audit);
  const metrics = metricsRouter(options.metrics);
  const routers = [
    health,
    jobs,
    volumes,
    limits,
    images,
    audit,
    metrics,
    openApiRouter(OPENAPI_DOCUMENT),
    options.pages.router,
  ];
  for (const router of routers) {
    app.use(router.routes());
    app.use(
      // Without `throw`, the router answers 405 with the `Allow` header RFC 9110 requires (and
      // OPTIONS with 200); problemDetails then gives the 405 its problem body.
      router.allowedMethods(),
    );
  }
  return app;
}
