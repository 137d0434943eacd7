// A client certificate is an ambient credential: a browser that holds one presents it to every
// request for this server, including those another site's page makes it send (a form post, a
// no-cors fetch). Such a request can change state without reading the answer, so a state-changing
// request that a browser marks as coming from another site is refused. Browsers say where a
// request comes from (Sec-Fetch-Site, Origin); curl and jobctl send neither and are unaffected.
import type { Next } from 'koa';
import { RouteError } from './problem.ts';
import type { AppContext } from './state.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** `none`: typed in the address bar or a bookmark; `same-origin`: this server's own pages. */
const OWN_FETCH_SITES = new Set(['same-origin', 'none']);

export async function refuseCrossSiteRequests(ctx: AppContext, next: Next): Promise<void> {
  // A WebSocket is opened with a GET, and every browser lets any page open one.
  if (!SAFE_METHODS.has(ctx.method) || ctx.get('Upgrade') !== '') {
    const reason = crossSiteReason(ctx);
    if (reason !== undefined) {
      throw new RouteError('CROSS_SITE_REQUEST', `refused a ${ctx.method} from ${reason}`);
    }
  }
  await next();
}

function crossSiteReason(ctx: AppContext): string | undefined {
  const site = ctx.get('Sec-Fetch-Site').toLowerCase();
  if (site !== '' && !OWN_FETCH_SITES.has(site))
    return `another site (Sec-Fetch-Site: ${site.slice(0, 20)})`;
  // Browsers without Fetch Metadata still send Origin on a cross-origin POST.
  const origin = ctx.get('Origin');
  if (origin !== '' && origin !== `https://${ctx.host}`)
    return `another origin (Origin: ${origin.slice(0, 100)})`;
  return undefined;
}
