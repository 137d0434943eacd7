// GET /openapi.json: the API's contract, for any authenticated client, so that tools can generate
// clients from the server they actually talk to. The document is handed in (app.ts), since it is
// assembled from every route's declaration, this one's included.
import Router from '@koa/router';
import { json, success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import type { OpenApiDocument } from '../openapi/types.ts';
import type { RouteDeclaration } from '../route-declaration.ts';
import type { AppState } from '../state.ts';

export function openApiRouter(document: OpenApiDocument): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/openapi.json', (ctx) => {
    ctx.body = document;
  });
  return router;
}

// ---- What the route declares: its OpenAPI operation ----------------------------------------

const GET_OPENAPI = operation({
  operationId: 'getOpenApi',
  summary: 'This document',
  description: "The API's OpenAPI 3.1 contract.",
  tag: 'service',
  responses: {
    200: success(
      'the document',
      json({
        type: 'object',
        required: ['openapi', 'info', 'paths'],
        properties: {
          openapi: { type: 'string', pattern: '^3\\.1\\.' },
          info: { type: 'object' },
          paths: { type: 'object' },
        },
        // The document describes itself only in outline; the rest is open.
        additionalProperties: true,
      }),
    ),
  },
});

export const OPENAPI_ROUTES: readonly RouteDeclaration[] = [
  { method: 'get', path: '/openapi.json', operation: GET_OPENAPI },
];
