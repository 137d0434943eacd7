// GET /openapi.json: the API's contract, for any authenticated client, so that tools can generate
// clients from the server they actually talk to.
import Router from '@koa/router';
import { OPENAPI_DOCUMENT } from '../openapi.ts';
import type { AppState } from '../state.ts';

export function openApiRouter(): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/openapi.json', (ctx) => {
    ctx.body = OPENAPI_DOCUMENT;
  });
  return router;
}
