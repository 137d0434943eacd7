// Headers that make every answer safe to hold in a browser, the console's pages and the API's
// JSON alike. A client certificate is an ambient credential, so what matters is what another
// site's page can do with this server's answers: frame them (frame-ancestors, X-Frame-Options),
// load them as a script or style (nosniff, Cross-Origin-Resource-Policy), or make the console
// run code that is not the server's own (a Content-Security-Policy without inline scripts).
// Nothing is kept by a cache either: an answer names jobs, their commands and their clients, and
// a browser's or a proxy's copy would outlive the certificate that was allowed to see it.
import type { Next } from 'koa';
import type { AppContext } from '../state.ts';

/**
 * The console's code and styles come from this origin only; it talks to this origin only (its
 * WebSockets included: 'self' covers wss: on the same host and port); nothing may frame it.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  // The console never parses HTML: with Trusted Types required, the browser refuses any
  // string handed to innerHTML and the like, should a change ever try.
  "require-trusted-types-for 'script'",
].join('; ');

export const NO_STORE = 'no-store';

const HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  // For browsers that predate frame-ancestors.
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  // Job ids in the console's paths are nobody else's business.
  'Referrer-Policy': 'no-referrer',
  // Every answer, problems included; only the console's own files say otherwise (they hold no
  // data, and are revalidated on every load: console-routes.ts).
  'Cache-Control': NO_STORE,
};

export async function securityHeaders(ctx: AppContext, next: Next): Promise<void> {
  ctx.set(HEADERS);
  await next();
  // A problem is never kept, whatever the route that failed had meant to allow.
  if (ctx.status >= 400) ctx.set('Cache-Control', NO_STORE);
}
