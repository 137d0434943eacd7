// GET /v1/images: the root filesystem images a job may name with `"image"` (imported by the
// operator with `npm run images`), so that a client can offer them instead of a guess that fails
// at start. The API layer does not load the launcher: the server hands it the store as a catalog.
import Router from '@koa/router';
import { MAX_LISTED_IMAGES, type ImageList } from '../../contract/images.ts';
import type { AppState } from '../state.ts';
import { json, ref, success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import type { RouteDeclaration } from '../route-declaration.ts';

/** What the route needs of the launcher's ImageStore. */
export interface ImageCatalog {
  list(): Promise<readonly { readonly name: string; readonly importedAt: Date }[]>;
}

export function imagesRouter(catalog: ImageCatalog): Router<AppState> {
  const router = new Router<AppState>();
  // Every role may read it: image names are the host's setup, nothing about another client. A
  // read is not audited, as no read of the server's own settings (/v1/limits, /healthz) is.
  router.get('/v1/images', async (ctx) => {
    ctx.body = await imageListOf(catalog);
  });
  return router;
}

async function imageListOf(catalog: ImageCatalog): Promise<ImageList> {
  const images = await catalog.list();
  return {
    images: images
      .slice(0, MAX_LISTED_IMAGES)
      .map(({ name, importedAt }) => ({ name, importedAt: importedAt.toISOString() })),
  };
}

// ---- What the route declares: its OpenAPI operation ----------------------------------------

const GET_IMAGES = operation({
  operationId: 'getImages',
  summary: 'The root filesystem images',
  description:
    'The images a job may name in `"image"` (imported by the operator with `npm run images`), ' +
    'by name, with when each was imported. A job that names one not listed is refused ' +
    '(`IMAGE_NOT_FOUND`).',
  tag: 'jobs',
  responses: { 200: success('the images', json(ref('schemas', 'ImageList'))) },
});

export const IMAGES_ROUTES: readonly RouteDeclaration[] = [
  { method: 'get', path: '/v1/images', operation: GET_IMAGES },
];
