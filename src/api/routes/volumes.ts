// The /v1/volumes routes: a client's named volumes (make, list, read, remove) and their content
// as tar streams (PUT and GET .../archive, as `docker cp` moves files). Each handler checks the
// role, parses the input and asks the volume manager, which knows nothing of HTTP. A volume is
// its client's alone: another client's name answers the same 404 as a name never made, on
// every route. Below the handlers, each route's OpenAPI operation and audit action.
import type { Readable } from 'node:stream';
import Router from '@koa/router';
import {
  archiveQuery,
  volumeListQuery,
  volumeRequestSchema,
  type VolumeAnswer,
} from '../../contract/volumes.ts';
import type { z } from 'zod';
import {
  CodedError,
  ForbiddenError,
  InvalidRequestError,
  VolumeNotFoundError,
} from '../../errors.ts';
import { VOLUME_NAME } from '../../jobs/volume-mounts.ts';
import { allowSlowBody } from '../../tls/connection-limits.ts';
import type { Volume, Volumes } from '../../volumes/volume-manager.ts';
import type { VolumeBudget } from '../../volumes/volume.ts';
import type { Role } from '../../pki/roles.ts';
import { readJsonBody } from '../http/json-body.ts';
import { describeIssues } from '../http/validation-messages.ts';
import { lingerAfterRefusal } from '../http/lingering-close.ts';
import { parseQuery } from '../http/query.ts';
import type { FollowerBudget } from '../jobs/follower-budget.ts';
import type { ListCursors } from '../jobs/list-cursor.ts';
import { may, type Action } from '../permissions.ts';
import type { AppContext, AppState } from '../state.ts';
import { json, problem, ref, success } from '../openapi/components.ts';
import { operation } from '../openapi/operation.ts';
import { queryParameters } from '../openapi/schemas.ts';
import type { Parameter } from '../openapi/types.ts';
import type { RouteDeclaration } from '../route-declaration.ts';

/** The media type of an archive, both ways. */
const TAR = 'application/x-tar';

export interface VolumeRoutesOptions {
  readonly volumes: Volumes;
  readonly cursors: ListCursors;
  /** What one client's volumes may take together, by its role. */
  readonly budgets: Readonly<Record<Role, VolumeBudget>>;
  /**
   * The client's open streams (--client-followers): an archive going either way holds one, as
   * an output stream does, so one client cannot open sandboxes without bound.
   */
  readonly streams: Pick<FollowerBudget, 'take'>;
}

export function volumesRouter(options: VolumeRoutesOptions): Router<AppState> {
  const { volumes, cursors, budgets, streams } = options;
  const router = new Router<AppState>({ prefix: '/v1/volumes' });

  router.post('/', async (ctx) => {
    const owner = authorize(ctx, 'start');
    const body = await readJsonBody(ctx);
    const request = volumeRequestSchema.safeParse(body);
    if (!request.success) throw invalidBody(request.error.issues, body);
    const { name, size } = request.data;
    ctx.state.volume = { name, sizeBytes: size };
    const volume = await volumes.create(owner, name, size, budgets[ctx.state.identity.role]);
    ctx.status = 201;
    ctx.set('Location', `/v1/volumes/${name}`);
    ctx.body = answerOf(volume);
  });

  router.get('/', (ctx) => {
    const owner = authorize(ctx, 'read');
    const seesAll = may(ctx.state.identity.role, 'seeAll');
    const { limit, cursor } = parseQuery(volumeListQuery, ctx.query);
    const scope = JSON.stringify(['volumes', owner, seesAll]);
    const after = cursor === undefined ? undefined : cursors.open(cursor, scope);
    const page = volumes.list(seesAll ? undefined : owner, {
      limit,
      ...(after === undefined ? {} : { after }),
    });
    if (page.next !== undefined) {
      const next = new URLSearchParams(ctx.querystring);
      next.set('cursor', cursors.seal(page.next, scope));
      ctx.set('Link', `<${ctx.path}?${next.toString()}>; rel="next"`);
    }
    ctx.body = { volumes: page.volumes.map(answerOf) };
  });

  // A volume's content is its client's: roles that make volumes (those that start jobs) read
  // their own; auditors, who have none, list them only.
  router.get('/:name', (ctx) => {
    const owner = authorize(ctx, 'start');
    ctx.body = answerOf(volumes.get(owner, volumeName(ctx)));
  });

  router.delete('/:name', async (ctx) => {
    const owner = authorize(ctx, 'delete');
    const name = volumeName(ctx);
    ctx.state.volume = { name };
    await volumes.remove(owner, name);
    ctx.status = 204;
  });

  router.put('/:name/archive', async (ctx) => {
    const owner = authorize(ctx, 'start');
    const name = volumeName(ctx);
    const { path } = parseQuery(archiveQuery, ctx.query);
    ctx.state.volume = { name, path };
    try {
      volumes.get(owner, name);
      if (!ctx.is(TAR)) {
        throw new CodedError(
          'UNSUPPORTED_MEDIA_TYPE',
          `expected Content-Type ${TAR}, received '${ctx.get('Content-Type') || 'none'}'`,
        );
      }
      // As long as the archive takes: a body streamed at the pace of the volume's disk.
      allowSlowBody(ctx.req);
      const release = streams.take(owner);
      try {
        const bytes = await volumes.upload(owner, name, path, ctx.req);
        ctx.state.volume = { name, path, bytes };
      } finally {
        release();
      }
    } catch (error) {
      // Read and drop the rest, so the client reads the refusal instead of a reset.
      if (!ctx.req.complete) lingerAfterRefusal(ctx.req);
      throw error;
    }
    ctx.status = 204;
  });

  router.get('/:name/archive', async (ctx) => {
    const owner = authorize(ctx, 'start');
    const name = volumeName(ctx);
    const { path } = parseQuery(archiveQuery, ctx.query);
    ctx.state.volume = { name, path };
    const release = streams.take(owner);
    let archive: Readable;
    try {
      archive = await volumes.download(owner, name, path);
    } catch (error) {
      release();
      throw error;
    }
    archive.once('close', release);
    // The status has gone with the first bytes: a tar that fails now (a file its owner cannot
    // read) can only cut the answer short, so that no client takes a partial archive as whole.
    archive.once('error', (error) => {
      ctx.state.log.error({ err: error }, 'volume archive failed after it began');
      ctx.res.destroy();
    });
    ctx.type = TAR;
    // Koa destroys the stream when the answer ends or the client goes: the sandbox with it.
    ctx.body = archive;
  });

  return router;
}

/** The caller's name, once its role may do `action` to volumes. */
function authorize(ctx: AppContext, action: Action): string {
  const { name, role } = ctx.state.identity;
  if (!may(role, action)) throw new ForbiddenError(`${action} volumes`, role);
  return name;
}

/** The name in the path; one that cannot be a volume's is not found, as any other. */
function volumeName(ctx: AppContext): string {
  const name = (ctx.params as Record<string, string | undefined>).name ?? '';
  if (!VOLUME_NAME.test(name)) throw new VolumeNotFoundError(name.slice(0, 63));
  return name;
}

function answerOf(volume: Volume): VolumeAnswer {
  return {
    name: volume.name,
    client: volume.client,
    sizeBytes: volume.sizeBytes,
    usedBytes: volume.usedBytes,
    createdAt: volume.createdAt.toISOString(),
  };
}

function invalidBody(issues: readonly z.core.$ZodIssue[], body: unknown): InvalidRequestError {
  const details = describeIssues(issues, body, (path) => path.map(String).join('.') || '(body)');
  const summary = details.map((detail) => `${detail.field}: ${detail.message}`).join('; ');
  return new InvalidRequestError(`invalid volume request: ${summary}`, details);
}

// ---- What the routes declare: their OpenAPI operations and audit actions --------------------

const VOLUME_NAME_PARAMETER: Parameter = {
  name: 'name',
  in: 'path',
  required: true,
  description: "one of the caller's volumes; another client's answers 404 as a missing one does",
  schema: { type: 'string', maxLength: 63 },
};

const NOT_FOUND = problem(
  404,
  "no such volume, or another client's volume: the two answers are identical",
  ['VOLUME_NOT_FOUND'],
);

const CREATE_VOLUME = operation({
  operationId: 'createVolume',
  summary: 'Make a volume',
  description:
    "A named filesystem of the caller's, of a fixed size the kernel enforces (a write past it " +
    'is ENOSPC), reserved whole on the data disk now, its root owned by the uid its jobs run ' +
    'as. Jobs mount it with `"volumes"`; files go in and out with its archive. A user-role ' +
    "client's volumes together may take `--client-volume-bytes` (8GiB) and number " +
    '`--client-volumes` (32).',
  tag: 'volumes',
  action: 'start',
  requestBody: {
    description: 'its name and size',
    required: true,
    content: json(ref('schemas', 'VolumeRequest')),
  },
  responses: {
    201: success('the volume', json(ref('schemas', 'Volume'))),
    400: problem(400, 'the request is not a volume request (`errors` names each field)', [
      'INVALID_REQUEST',
      'MALFORMED_REQUEST',
    ]),
    409: problem(409, 'the caller has a volume of that name', ['VOLUME_EXISTS']),
    415: ref('responses', 'UnsupportedMediaType'),
    507: problem(
      507,
      "`VOLUME_BUDGET_EXCEEDED`: the client's volumes would take more than its budget; " +
        '`VOLUME_COUNT_EXCEEDED`: it has as many volumes as it may; `INSUFFICIENT_STORAGE`: ' +
        'the data disk has not the size free above the floor it keeps',
      ['INSUFFICIENT_STORAGE', 'VOLUME_BUDGET_EXCEEDED', 'VOLUME_COUNT_EXCEEDED'],
    ),
  },
});

const LIST_VOLUMES = operation({
  operationId: 'listVolumes',
  summary: 'List volumes',
  description:
    "The caller's volumes, newest first; every client's for admins and auditors. One page at " +
    'a time: when there are more, the `Link` header names the next page.',
  tag: 'volumes',
  action: 'read',
  parameters: queryParameters(volumeListQuery),
  responses: {
    200: success('the volumes', json(ref('schemas', 'VolumeList')), {
      Link: {
        description: 'when there are more volumes: `<URL of the next page>; rel="next"`',
        schema: { type: 'string', pattern: '^<[^>]+>; rel="next"$' },
      },
    }),
    400: ref('responses', 'InvalidQuery'),
  },
});

const GET_VOLUME = operation({
  operationId: 'getVolume',
  summary: 'Get a volume',
  description: "One of the caller's volumes, with what its files take now.",
  tag: 'volumes',
  action: 'start',
  parameters: [VOLUME_NAME_PARAMETER],
  responses: { 200: success('the volume', json(ref('schemas', 'Volume'))), 404: NOT_FOUND },
});

const DELETE_VOLUME = operation({
  operationId: 'deleteVolume',
  summary: 'Remove a volume',
  description:
    'Removes the volume and its files, and gives its reservation back to the data disk. ' +
    'Refused while a queued or running job names it.',
  tag: 'volumes',
  action: 'delete',
  parameters: [VOLUME_NAME_PARAMETER],
  responses: {
    204: success('removed'),
    404: NOT_FOUND,
    409: problem(409, 'a queued or running job names the volume, or an archive of it is open', [
      'VOLUME_IN_USE',
    ]),
  },
});

const PUT_ARCHIVE = operation({
  operationId: 'putVolumeArchive',
  summary: 'Unpack a tar archive into a volume',
  description:
    'Streams the body, a tar archive, into the volume at `?path` (made if missing), as the ' +
    "uid the client's jobs run as, in a sandbox that sees only the volume: `..` and absolute " +
    'names stay inside it, links cannot reach out, device nodes are not made and set-id bits ' +
    'are dropped. What is unpacked before an error stays. A client that goes away mid-way ' +
    'leaves the volume usable.',
  tag: 'volumes',
  action: 'start',
  parameters: [VOLUME_NAME_PARAMETER, ...queryParameters(archiveQuery)],
  requestBody: {
    description: 'a tar archive (ustar, GNU or pax), uncompressed',
    required: true,
    content: { [TAR]: { schema: { type: 'string', format: 'binary' } } },
  },
  responses: {
    204: success('unpacked whole'),
    400: ref('responses', 'InvalidQuery'),
    404: NOT_FOUND,
    415: ref('responses', 'UnsupportedMediaType'),
    429: ref('responses', 'TooManyRequestsOrFollowers'),
    422: problem(422, 'tar refused the archive or an entry of it (the detail says which)', [
      'ARCHIVE_REJECTED',
    ]),
    507: problem(507, 'the volume is full: the archive did not fit', ['VOLUME_FULL']),
  },
});

const GET_ARCHIVE = operation({
  operationId: 'getVolumeArchive',
  summary: 'A tar archive of a path in a volume',
  description:
    'A directory as a tar of its content (names relative to it, `./...`), a file as a tar of ' +
    'that one file; read as the uid its jobs run as, in a sandbox that sees only the volume. ' +
    'Streamed as the client reads it.',
  tag: 'volumes',
  action: 'start',
  parameters: [VOLUME_NAME_PARAMETER, ...queryParameters(archiveQuery)],
  responses: {
    200: success('the archive', { [TAR]: { schema: { type: 'string', format: 'binary' } } }),
    400: ref('responses', 'InvalidQuery'),
    429: ref('responses', 'TooManyRequestsOrFollowers'),
    404: problem(404, "no such volume (or another client's), or nothing at the path", [
      'VOLUME_NOT_FOUND',
      'VOLUME_PATH_NOT_FOUND',
    ]),
  },
});

export const VOLUME_ROUTES: readonly RouteDeclaration[] = [
  { method: 'post', path: '/v1/volumes', operation: CREATE_VOLUME, audit: 'volume.create' },
  { method: 'get', path: '/v1/volumes', operation: LIST_VOLUMES },
  { method: 'get', path: '/v1/volumes/{name}', operation: GET_VOLUME },
  {
    method: 'delete',
    path: '/v1/volumes/{name}',
    operation: DELETE_VOLUME,
    audit: 'volume.delete',
  },
  {
    method: 'put',
    path: '/v1/volumes/{name}/archive',
    operation: PUT_ARCHIVE,
    audit: 'volume.upload',
  },
  {
    method: 'get',
    path: '/v1/volumes/{name}/archive',
    operation: GET_ARCHIVE,
    audit: 'volume.download',
  },
];
