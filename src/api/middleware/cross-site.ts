// A client certificate is an ambient credential: a browser that holds one presents it to every
// request for this server, including those another site's page makes it send (a form post, a
// no-cors fetch, an <img> or <script>). Such a request runs as the certificate's client without
// its page reading the answer: a write changes state, and a read still spends the client's rate
// limit and costs the server its answer. So every request a browser marks as coming from another
// site is refused, reads included, except a navigation to one of the console's pages: following
// a link to a job from a chat or a wiki opens the console, whose own requests are same-origin.
// Browsers say where a request comes from (Sec-Fetch-*, Origin); curl and jobctl send none of it
// and are unaffected.
import type { Next } from 'koa';
import { CrossSiteRequestError } from '../../errors.ts';
import type { AppContext } from '../state.ts';

/** `none`: typed in the address bar or a bookmark; `same-origin`: this server's own pages. */
const OWN_FETCH_SITES = new Set(['same-origin', 'none']);

/** Pages as the router matches them (`:id` is one segment, a trailing / allowed). */
function pagePattern(pages: readonly string[]): RegExp {
  return new RegExp(`^(?:${pages.map((page) => page.replace(/:\w+/g, '[^/]+')).join('|')})/?$`);
}

/** `consolePages`: the console's pages (given by server.ts, which mounts the console). */
export function refuseCrossSiteRequests(consolePages: readonly string[]) {
  const consolePage = pagePattern(consolePages);
  return async function refuseCrossSite(ctx: AppContext, next: Next): Promise<void> {
    if (!isConsoleNavigation(ctx, consolePage)) {
      const reason = crossSiteReason(ctx);
      if (reason !== undefined) {
        throw new CrossSiteRequestError(ctx.method, reason);
      }
    }
    await next();
  };
}

/**
 * A top-level page load of the console (a link followed, a bookmark): what any site may start.
 * Not a frame (its destination is `iframe`), not a WebSocket (any page may open one with a GET),
 * not the API's JSON shown as a page.
 */
function isConsoleNavigation(ctx: AppContext, consolePage: RegExp): boolean {
  return (
    ctx.method === 'GET' &&
    ctx.get('Upgrade') === '' &&
    ctx.get('Sec-Fetch-Mode').toLowerCase() === 'navigate' &&
    ctx.get('Sec-Fetch-Dest').toLowerCase() === 'document' &&
    consolePage.test(ctx.path)
  );
}

function crossSiteReason(ctx: AppContext): string | undefined {
  const site = ctx.get('Sec-Fetch-Site').toLowerCase();
  if (site !== '' && !OWN_FETCH_SITES.has(site))
    return `another site (Sec-Fetch-Site: ${site.slice(0, 20)})`;
  // Browsers without Fetch Metadata still send Origin on a cross-origin POST, CORS fetch or
  // WebSocket.
  const origin = ctx.get('Origin');
  if (origin !== '' && origin !== `https://${ctx.host}`)
    return `another origin (Origin: ${origin.slice(0, 100)})`;
  return undefined;
}
