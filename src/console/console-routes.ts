// The web console's pages and assets, served on the API's own port behind the same mutual TLS:
// `/` and `/jobs/{id}` are one page (the browser's code reads the path), its code and styles are
// under `/ui/`. The console is a client of the public API like any other: the server gives it
// files and nothing else, so it sees exactly what the certificate's client may see.
import Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import { loadConsoleAssets, type ConsoleAsset } from './console-assets.ts';

/** The paths that are the console's page; the browser's code tells them apart. */
export const CONSOLE_PAGES = ['/', '/jobs/:id'] as const;

/**
 * The console as server.ts mounts it beside the API: its router, and its pages, which a link
 * from another site may open (the API's cross-site rule lets such a navigation through).
 */
export function consolePages<State>(): {
  readonly router: Router<State>;
  readonly navigable: readonly string[];
} {
  return { router: consoleRouter<State>(), navigable: CONSOLE_PAGES };
}

function consoleRouter<State>(): Router<State> {
  const { page, assets } = loadConsoleAssets();
  const router = new Router<State>();
  for (const path of CONSOLE_PAGES) router.get(path, (ctx) => serve(ctx, page));
  router.get('/ui/:file', (ctx, next) => {
    const asset = assets.get(ctx.params.file ?? '');
    // Anything else under /ui/ is the app's ordinary 404 problem.
    if (asset === undefined) return next();
    serve(ctx, asset);
  });
  return router;
}

function serve<State>(ctx: ParameterizedContext<State>, asset: ConsoleAsset): void {
  // Revalidated on every load (a 304 costs a round trip, not the file), so an upgraded server
  // never runs a page against an older copy of its code.
  ctx.set('Cache-Control', 'no-cache');
  ctx.etag = asset.etag;
  ctx.type = asset.type;
  // Koa compares the validators only for an answer that would be a success.
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = asset.body;
}
