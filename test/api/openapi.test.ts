// The OpenAPI document is the API's contract, and this keeps it true: the document is well formed,
// it lists exactly the routes the app registers (so a route added without docs fails here), and a
// tour of real requests over mutual TLS meets only statuses, media types, headers, trailers and
// bodies that it documents for the operation answering.
import assert from 'node:assert/strict';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import Router from '@koa/router';
import { pino } from 'pino';
import { createApp, type AppOptions } from '../../src/api/app.ts';
import { consolePages } from '../../src/console/console-routes.ts';
import { OPENAPI_DOCUMENT as doc } from '../../src/api/openapi.ts';
import {
  HTTP_METHODS,
  type Header,
  type HttpMethod,
  type Operation,
  type Parameter,
  type PathItem,
  type Reference,
  type ResponseObject,
} from '../../src/api/openapi/types.ts';
import { STATUS_OF } from '../../src/contract/problem.ts';
import { ROLES, type Role } from '../../src/pki/roles.ts';
import { ContractValidator, resolvePointer, type Schema } from '../helpers/contract-validator.ts';
import { attach } from '../helpers/attach.ts';
import { startServer, type Response, type TestServer } from '../helpers/server.ts';
import { tarOf } from '../helpers/tar.ts';

const TAR = { 'content-type': 'application/x-tar' };

const contract = new ContractValidator(doc);

const CLIENT_OF: Readonly<Record<Role, string>> = {
  admin: 'admin',
  user: 'alice',
  auditor: 'auditor',
};

interface Located {
  readonly template: string;
  readonly method: HttpMethod;
  readonly operation: Operation;
}

function operations(): Located[] {
  return Object.entries(doc.paths).flatMap(([template, item]) =>
    HTTP_METHODS.flatMap((method) => {
      const operation = item[method];
      return operation === undefined ? [] : [{ template, method, operation }];
    }),
  );
}

function resolve<T extends object>(value: T | Reference): T {
  return '$ref' in value ? (resolvePointer(doc, value.$ref) as T) : value;
}

function responseOf(operation: Operation, status: number): ResponseObject | undefined {
  const entry = operation.responses[String(status)];
  return entry === undefined ? undefined : resolve(entry);
}

/** Every value under any key, depth first, with its JSON pointer. */
function* walk(node: unknown, pointer = '#'): Generator<[string, unknown]> {
  yield [pointer, node];
  if (node === null || typeof node !== 'object') return;
  for (const [key, child] of Object.entries(node)) yield* walk(child, `${pointer}/${key}`);
}

describe('the OpenAPI document is well formed', () => {
  it('is OpenAPI 3.1, with mutual TLS as its security', () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.ok(doc.info.title.length > 0 && doc.info.version.length > 0);
    for (const requirement of doc.security) {
      for (const scheme of Object.keys(requirement)) {
        assert.equal(doc.components.securitySchemes[scheme]?.type, 'mutualTLS', scheme);
      }
    }
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc, 'plain JSON, nothing lost');
  });

  it('resolves every $ref', () => {
    for (const [pointer, node] of walk(doc)) {
      if (!pointer.endsWith('/$ref')) continue;
      assert.equal(typeof node, 'string', pointer);
      assert.doesNotThrow(() => resolvePointer(doc, node as string), pointer);
    }
  });

  it('gives every operation a unique operationId, known tags, roles and responses', () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    assert.deepEqual([...new Set(ids)], ids, 'operationIds are unique');
    const tags = new Set(doc.tags.map((tag) => tag.name));
    for (const { template, method, operation } of operations()) {
      const where = `${method.toUpperCase()} ${template}`;
      assert.ok(operation.summary && operation.description, `${where}: summary and description`);
      for (const tag of operation.tags) assert.ok(tags.has(tag), `${where}: tag ${tag}`);
      for (const role of operation['x-roles']) assert.ok(ROLES.includes(role as Role), where);
      const statuses = Object.keys(operation.responses);
      assert.ok(
        // 101 is a WebSocket's success.
        statuses.some((status) => status.startsWith('2') || status === '101'),
        `${where}: a success`,
      );
      for (const status of statuses) assert.match(status, /^[1-5](\d\d|XX)$/, where);
      for (const response of Object.values(operation.responses)) {
        assert.ok(resolve(response).description.length > 0, `${where}: response description`);
      }
    }
  });

  it('declares each path template parameter exactly once, as required', () => {
    for (const { template, method, operation } of operations()) {
      const inPath = (operation.parameters ?? [])
        .map((parameter) => resolve<Parameter>(parameter))
        .filter((parameter) => parameter.in === 'path');
      const names = [...template.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      assert.deepEqual(
        inPath.map((parameter) => parameter.name).sort(),
        names.sort(),
        `${method} ${template}`,
      );
      for (const parameter of inPath) assert.equal(parameter.required, true);
    }
  });

  it('pins each problem response to the codes problem.ts maps to its status', () => {
    for (const { template, operation } of operations()) {
      for (const [status, entry] of Object.entries(operation.responses)) {
        const media = resolve(entry).content?.['application/problem+json'];
        if (media === undefined) continue;
        const pinned = (media.schema?.allOf as Schema[] | undefined)?.[1] as
          { properties: { status: { const: number }; code: { enum: string[] } } } | undefined;
        assert.ok(pinned, `${template} ${status}: pinned status and codes`);
        assert.equal(pinned.properties.status.const, Number(status));
        for (const code of pinned.properties.code.enum) {
          assert.equal(STATUS_OF[code as keyof typeof STATUS_OF], Number(status), code);
        }
      }
    }
  });

  it('compiles every component schema in ajv strict mode', () => {
    const names = Object.keys(doc.components.schemas);
    assert.ok(names.length > 10);
    // Strict mode throws on an unknown keyword, `required` without `properties`, and the like.
    assert.doesNotThrow(() => new ContractValidator(doc).compileComponents(names));
  });
});

describe('the document lists exactly the routes the app serves', () => {
  /** `METHOD /path/{param}` for each route the routers of the real app register. */
  function appRoutes(): string[] {
    // Routers hold their dependencies by reference and use none until a request comes, so every
    // option can be an empty object; a Proxy keeps this true as options are added.
    const silent = pino({ enabled: false });
    const options = new Proxy({} as AppOptions, {
      get: (_target, key) => {
        if (key === 'logger') return silent;
        // Mounted beside the API as server.ts mounts it.
        if (key === 'pages') return consolePages();
        return key === 'listCursorKey' ? Buffer.alloc(32) : {};
      },
    });
    const app = createApp(options);
    return app.middleware.flatMap((middleware) => {
      const { router } = middleware as { router?: unknown };
      if (!(router instanceof Router)) return [];
      return router.stack.flatMap((layer) =>
        layer.methods
          // HEAD is answered wherever GET is, which the document says once for all.
          .filter((method) => method !== 'HEAD')
          .map((method) => `${method} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`),
      );
    });
  }

  const documented = operations().map(
    ({ method, template }) => `${method.toUpperCase()} ${template}`,
  );

  it('documents every route the app registers', () => {
    const routes = appRoutes();
    assert.ok(routes.length >= documented.length - 1, `found the routes: ${routes.join(', ')}`);
    const undocumented = routes.filter((route) => !documented.includes(route));
    assert.deepEqual(undocumented, [], 'routes missing from src/api/openapi.ts');
  });

  it('serves every operation the document lists', () => {
    const routes = appRoutes();
    const unserved = documented.filter((operation) => !routes.includes(operation));
    assert.deepEqual(unserved, [], 'documented operations no router serves');
  });
});

describe('a tour of the running API meets only documented answers', () => {
  let server: TestServer;
  /** `operationId status` for every documented answer the tour has met. */
  const met = new Set<string>();
  /** An ended job of alice's: the tour's requests about one job ask about it. */
  let ended = '';

  before(async () => {
    // Low enough fairness limits for the tour to meet both 429s, high enough for nothing else to.
    server = await startServer({ env: { CLIENT_MAX_RUNNING: '2', CLIENT_RATE_LIMIT: '100' } });
  });
  after(async () => {
    await server.dispose();
  });

  type RequestOptions = Parameters<TestServer['request']>[3];

  /** Makes a request and checks its answer against the document, whatever its status. */
  async function observe(
    client: string,
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<Response> {
    const response = await server.request(client, method, path, options);
    conforms(method, path.split('?')[0] ?? path, response, options.json);
    return response;
  }

  /** Like observe, and the status must be the one the tour expects. */
  async function visit(
    client: string,
    method: string,
    path: string,
    status: number,
    options: RequestOptions = {},
  ): Promise<Response> {
    const response = await observe(client, method, path, options);
    assert.equal(
      response.status,
      status,
      `${client} ${method} ${path}: ${response.text().slice(0, 400)}`,
    );
    return response;
  }

  function conforms(method: string, path: string, response: Response, sent?: unknown): void {
    const where = `${method} ${path} -> ${response.status}`;
    const template = Object.keys(doc.paths).find((candidate) =>
      new RegExp(`^${candidate.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
    );
    if (template === undefined) {
      assert.equal(response.status, 404, `${where}: an unknown path`);
      assertBody(where, { $ref: '#/components/schemas/Problem' }, response);
      return;
    }
    const item: PathItem = doc.paths[template] ?? {};
    const operation = item[method.toLowerCase() as HttpMethod];
    if (operation === undefined) {
      assert.equal(response.status, 405, `${where}: a method the path does not list`);
      for (const other of Object.values(item)) {
        assert.ok(responseOf(other, 405), `${other.operationId} documents 405`);
        met.add(`${other.operationId} 405`);
      }
      conformsTo(where, responseOf(Object.values(item)[0] as Operation, 405), response);
      return;
    }
    const documented = responseOf(operation, response.status);
    assert.ok(
      documented,
      `${where}: ${operation.operationId} does not document ${response.status}`,
    );
    conformsTo(`${where} (${operation.operationId})`, documented, response);
    assertRequestAgrees(where, operation, sent, response);
    met.add(`${operation.operationId} ${response.status}`);
  }

  /**
   * The documented request schema and the server's own validation agree on what the tour sent:
   * a body the server accepted conforms, and one it refused field by field does not.
   */
  function assertRequestAgrees(
    where: string,
    operation: Operation,
    sent: unknown,
    response: Response,
  ): void {
    const schema = operation.requestBody?.content['application/json']?.schema;
    if (schema === undefined || sent === undefined) return;
    const errors = contract.validate(schema, sent);
    if (response.status < 300) {
      assert.deepEqual(errors, [], `${where}: the server accepted a body the document refuses`);
    }
    if (response.status !== 400) return;
    const problem = response.json<{ code: string; errors?: { field: string }[] }>();
    const fields = (problem.errors ?? []).filter((error) => !error.field.startsWith('?'));
    if (problem.code === 'INVALID_REQUEST' && fields.length > 0) {
      assert.notDeepEqual(errors, [], `${where}: the document accepts a body the server refuses`);
    }
  }

  function conformsTo(
    where: string,
    documented: ResponseObject | undefined,
    response: Response,
  ): void {
    assert.ok(documented, where);
    const contentType = response.headers['content-type'];
    if (documented.content === undefined) {
      assert.equal(contentType, undefined, `${where}: no content`);
      assert.equal(response.body.length, 0, `${where}: no body`);
    } else {
      assert.ok(contentType, `${where}: a Content-Type`);
      const key = Object.keys(documented.content).find((media) =>
        mediaTypeMatches(media, contentType),
      );
      assert.ok(
        key,
        `${where}: ${contentType} is not among ${Object.keys(documented.content).join(', ')}`,
      );
      const schema = documented.content[key]?.schema;
      if (schema !== undefined) assertBody(where, schema, response);
    }
    assertHeaders(where, documented, response);
    assertTrailers(where, documented, response);
  }

  function assertBody(where: string, schema: Schema, response: Response): void {
    const type = response.headers['content-type'] ?? '';
    const body: unknown = /[/+]json\b/.test(type) ? response.json() : response.text();
    assert.deepEqual(contract.validate(schema, body), [], `${where}: the body`);
  }

  function assertHeaders(where: string, documented: ResponseObject, response: Response): void {
    for (const [name, entry] of Object.entries(documented.headers ?? {})) {
      const header = resolve<Header>(entry);
      const value = response.headers[name.toLowerCase()];
      if (value === undefined) {
        assert.ok(!header.required, `${where}: the header ${name}`);
        continue;
      }
      assert.deepEqual(
        contract.validate(header.schema, headerValue(header, String(value))),
        [],
        `${where}: ${name}`,
      );
    }
  }

  function assertTrailers(where: string, documented: ResponseObject, response: Response): void {
    const trailers = documented['x-trailers'] ?? {};
    const names = new Map(Object.keys(trailers).map((name) => [name.toLowerCase(), name]));
    for (const [name, value] of Object.entries(response.trailers)) {
      const documentedName = names.get(name);
      assert.ok(documentedName, `${where}: the trailer ${name} is not documented`);
      const header = trailers[documentedName] as Header;
      assert.deepEqual(
        contract.validate(header.schema, String(value)),
        [],
        `${where}: trailer ${name}`,
      );
    }
    if (response.headers.trailer === undefined) return;
    for (const [name, header] of Object.entries(trailers)) {
      if (header.required) assert.ok(name.toLowerCase() in response.trailers, `${where}: ${name}`);
    }
  }

  it('starts, lists, reads, follows, stops and deletes jobs', async () => {
    const started = (
      await visit('alice', 'POST', '/v1/jobs', 201, { json: { command: 'echo', args: ['hi'] } })
    ).json<{ id: string }>();
    assert.equal((await server.waitForEnd('alice', started.id)).status, 'exited');
    ended = started.id;

    const followed = await visit('alice', 'POST', '/v1/jobs?follow=true', 201, {
      json: {
        command: 'sh',
        args: ['-c', 'echo out; echo err >&2; exit 3'],
        env: { A: '1' },
        limits: { pids: 64 },
      },
    });
    assert.equal(followed.text(), 'out\nerr\n');
    assert.deepEqual(
      { status: followed.trailers['job-status'], exitCode: followed.trailers['job-exit-code'] },
      { status: 'exited', exitCode: '3' },
    );

    const sleeper = (
      await visit('alice', 'POST', '/v1/jobs', 201, {
        json: { command: 'sleep', args: ['600'], timeout: '10m' },
      })
    ).json<{ id: string }>();
    await visit('alice', 'GET', '/v1/jobs', 200);
    await visit('admin', 'GET', '/v1/jobs?status=running', 200);
    await visit('auditor', 'GET', `/v1/jobs/${sleeper.id}`, 200);
    await visit('alice', 'GET', `/v1/jobs/${ended}/output?stream=stdout&offset=1`, 200);
    await visit('alice', 'GET', `/v1/jobs/${ended}/output?follow=1`, 200);
    await visit('alice', 'DELETE', `/v1/jobs/${sleeper.id}`, 409);
    await visit('alice', 'POST', `/v1/jobs/${sleeper.id}/stop`, 202);
    await server.waitForEnd('alice', sleeper.id);
    await visit('alice', 'POST', `/v1/jobs/${sleeper.id}/stop`, 409);
    await visit('admin', 'DELETE', `/v1/jobs/${sleeper.id}`, 204);
    await visit('alice', 'GET', `/v1/jobs/${sleeper.id}`, 404);
    const reader = (
      await visit('alice', 'POST', '/v1/jobs', 201, { json: { command: 'cat', stdin: true } })
    ).json<{ id: string }>();
    await visit('bob', 'PUT', `/v1/jobs/${reader.id}/stdin`, 404, { body: 'x' });
    await visit('admin', 'PUT', `/v1/jobs/${reader.id}/stdin`, 403, { body: 'x' });
    await visit('alice', 'PUT', `/v1/jobs/${reader.id}/stdin`, 204, { body: 'x' });
    await visit('alice', 'PUT', `/v1/jobs/${ended}/stdin`, 409, { body: 'x' });
    const terminal = (
      await visit('alice', 'POST', '/v1/jobs', 201, { json: { command: 'cat', tty: true } })
    ).json<{ id: string }>();
    await visit('alice', 'GET', `/v1/jobs/${terminal.id}/attach`, 426);
    await visit('alice', 'GET', `/v1/jobs/${terminal.id}/attach?offset=-1`, 400);
    await visit('bob', 'GET', `/v1/jobs/${terminal.id}/attach`, 404);
    // Watching another's job is reading it; taking its input is the owner's alone.
    await visit('admin', 'GET', `/v1/jobs/${terminal.id}/attach`, 403);
    await visit('alice', 'GET', `/v1/jobs/${terminal.id}/attach?from=now&tailBytes=10`, 400);
    const watcher = await attach(server, 'admin', terminal.id, { stdin: false, tailBytes: 10 });
    assert.equal(watcher.kind, 'open', watcher.kind === 'refused' ? watcher.body : '');
    watcher.session.socket.close();
    await watcher.session.closed;
    const attached = await attach(server, 'alice', terminal.id);
    assert.equal(attached.kind, 'open');
    // The switch of protocols carries what the document says it does.
    const switched = doc.paths['/v1/jobs/{id}/attach']?.get?.responses['101'];
    assert.ok(switched !== undefined && !('$ref' in switched));
    for (const name of Object.keys(switched.headers ?? {})) {
      assert.ok(attached.handshake.headers[name.toLowerCase()] !== undefined, name);
    }
    met.add('attachJob 101');
    const second = await attach(server, 'alice', terminal.id);
    assert.equal(second.kind === 'refused' && second.status, 409);
    const busy = JSON.parse(second.kind === 'refused' ? second.body : '{}') as { code?: string };
    assert.equal(busy.code, 'INPUT_BUSY');
    met.add('attachJob 409');
    attached.session.endInput();
    await attached.session.closed;
  });

  it('makes, lists, reads, fills, packs and removes volumes', async () => {
    const tar = { body: tarOf([{ name: 'hello.txt', content: 'hi\n' }]), headers: TAR };
    await visit('alice', 'POST', '/v1/volumes', 201, { json: { name: 'tour', size: '32M' } });
    await visit('admin', 'POST', '/v1/volumes', 201, { json: { name: 'tour', size: 32 << 20 } });
    await visit('alice', 'POST', '/v1/volumes', 409, { json: { name: 'tour', size: '32M' } });
    await visit('alice', 'POST', '/v1/volumes', 400, { json: { name: '../x', size: '32M' } });
    await visit('alice', 'GET', '/v1/volumes?limit=1', 200);
    await visit('alice', 'GET', '/v1/volumes/tour', 200);
    await visit('bob', 'GET', '/v1/volumes/tour', 404);
    await visit('alice', 'PUT', '/v1/volumes/tour/archive?path=/in', 204, tar);
    await visit('alice', 'PUT', '/v1/volumes/tour/archive', 415, { body: 'x' });
    await visit('alice', 'PUT', '/v1/volumes/tour/archive', 422, {
      body: 'not a tar',
      headers: TAR,
    });
    await visit('alice', 'GET', '/v1/volumes/tour/archive?path=/in', 200);
    await visit('alice', 'GET', '/v1/volumes/tour/archive?path=/nothing', 404);
    await visit('alice', 'POST', '/v1/volumes', 201, { json: { name: 'gone', size: '32M' } });
    await visit('alice', 'DELETE', '/v1/volumes/gone', 204);
    await visit('alice', 'DELETE', '/v1/volumes/gone', 404);
  });

  it('reads the audit trail, its keys, metrics, health and this document', async () => {
    await visit('auditor', 'GET', '/v1/audit', 200);
    const filtered = await visit(
      'admin',
      'GET',
      `/v1/audit?client=alice&job=${ended}&since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00%2B01:00&limit=5`,
      200,
    );
    assert.ok(filtered.json<{ records: unknown[] }>().records.length > 0);
    const verdict = await visit('admin', 'GET', '/v1/audit/verify', 200);
    assert.equal(verdict.json().ok, true, verdict.text());
    await visit('bob', 'GET', '/.well-known/jwks.json', 200);
    await visit('admin', 'GET', '/metrics', 200);
    await visit('alice', 'GET', '/healthz', 200);
    const limits = await visit('alice', 'GET', '/v1/limits', 200);
    assert.equal(limits.json().role, 'user');
    assert.equal((await visit('auditor', 'GET', '/v1/limits', 200)).json().mayStart, false);
    const served = await visit('auditor', 'GET', '/openapi.json', 200);
    assert.deepEqual(served.json(), JSON.parse(JSON.stringify(doc)));
  });

  it('answers bad input with the documented problems', async () => {
    const invalid = await visit('alice', 'POST', '/v1/jobs', 400, {
      json: { command: '', args: [1], cwd: 'x' },
    });
    assert.ok(invalid.json<{ errors: unknown[] }>().errors.length >= 3);
    await visit('alice', 'POST', '/v1/jobs', 400, {
      body: '{"command": ',
      headers: { 'content-type': 'application/json' },
    });
    await visit('alice', 'POST', '/v1/jobs', 400, {
      json: { command: 'true', limits: { memory: '1TiB' } },
    });
    await visit('alice', 'POST', '/v1/jobs', 400, {
      json: { command: 'true', limits: { memory: '64 parsecs' } },
    });
    await visit('alice', 'POST', '/v1/jobs', 400, { json: { command: 'true', timeout: 'soon' } });
    await visit('alice', 'POST', '/v1/jobs?follow=maybe', 400, { json: { command: 'true' } });
    await visit('alice', 'POST', '/v1/jobs', 413, {
      json: { command: 'true', args: ['x'.repeat(70 * 1024)] },
    });
    await visit('alice', 'POST', '/v1/jobs', 415, {
      body: 'echo hi',
      headers: { 'content-type': 'text/plain' },
    });
    await visit('alice', 'GET', '/v1/jobs?status=sleeping', 400);
    await visit('alice', 'GET', '/v1/jobs?colour=blue', 400);
    await visit('alice', 'GET', `/v1/jobs/${ended}/output?stream=both`, 400);
    await visit('alice', 'GET', `/v1/jobs/${ended}/output?offset=-1`, 400);
    await visit('auditor', 'GET', '/v1/audit?limit=0', 400);
    await visit('auditor', 'GET', '/v1/audit?job=42&since=yesterday', 400);
    const unknown = '00000000-0000-4000-8000-000000000000';
    await visit('alice', 'GET', `/v1/jobs/${unknown}`, 404);
    await visit('alice', 'GET', '/v1/jobs/not-a-job', 404);
    await visit('bob', 'GET', `/v1/jobs/${ended}`, 404);
    await visit('alice', 'POST', `/v1/jobs/${unknown}/stop`, 404);
    await visit('alice', 'GET', `/v1/jobs/${unknown}/output`, 404);
    await visit('alice', 'DELETE', `/v1/jobs/${unknown}`, 404);
    await visit('alice', 'GET', '/v2/nothing', 404);
    await visit('alice', 'GET', '/ui/nothing.js', 404);
    await visit('alice', 'GET', '/ui/tsconfig.json', 404);
    const page = await visit('alice', 'GET', '/', 200);
    await visit('alice', 'GET', '/', 304, {
      headers: { 'if-none-match': String(page.headers.etag) },
    });
  });

  /** A request that would succeed for an allowed role, for each operation. */
  function sampleOf(operationId: string): { path: string; json?: unknown } {
    const samples: Record<string, { path: string; json?: unknown }> = {
      startJob: { path: '/v1/jobs', json: { command: 'true' } },
      listJobs: { path: '/v1/jobs' },
      getJob: { path: `/v1/jobs/${ended}` },
      stopJob: { path: `/v1/jobs/${ended}/stop` },
      deleteJob: { path: `/v1/jobs/${ended}` },
      writeJobInput: { path: `/v1/jobs/${ended}/stdin` },
      attachJob: { path: `/v1/jobs/${ended}/attach` },
      getJobOutput: { path: `/v1/jobs/${ended}/output` },
      listAuditRecords: { path: '/v1/audit' },
      verifyAuditLog: { path: '/v1/audit/verify' },
      getLimits: { path: '/v1/limits' },
      getImages: { path: '/v1/images' },
      createVolume: { path: '/v1/volumes', json: { name: 'sample', size: '32M' } },
      listVolumes: { path: '/v1/volumes' },
      getVolume: { path: '/v1/volumes/tour' },
      deleteVolume: { path: '/v1/volumes/tour' },
      putVolumeArchive: { path: '/v1/volumes/tour/archive' },
      getVolumeArchive: { path: '/v1/volumes/tour/archive' },
      getJwks: { path: '/.well-known/jwks.json' },
      getHealth: { path: '/healthz' },
      getMetrics: { path: '/metrics' },
      getOpenApi: { path: '/openapi.json' },
      getConsole: { path: '/' },
      getConsoleJobPage: { path: `/jobs/${ended}` },
      getConsoleAsset: { path: '/ui/app.js' },
    };
    const sample = samples[operationId];
    assert.ok(sample, `the tour has no sample request for ${operationId}: add one`);
    return sample;
  }

  it('answers 403 FORBIDDEN to every role outside x-roles, and 200 to reads by those inside', async () => {
    for (const { method, operation } of operations()) {
      const { path, json } = sampleOf(operation.operationId);
      for (const role of ROLES) {
        const options = json === undefined ? {} : { json };
        if (!operation['x-roles'].includes(role)) {
          const denied = await visit(CLIENT_OF[role], method.toUpperCase(), path, 403, options);
          assert.equal(denied.json().code, 'FORBIDDEN');
        } else if (method === 'get' && operation.operationId !== 'attachJob') {
          // (Attaching is no read: only the owner may, over a WebSocket, tested on its own.)
          await visit(CLIENT_OF[role], 'GET', path, 200);
        }
      }
    }
  });

  it('answers 405 on every path to a method it does not list, and OPTIONS with its methods', async () => {
    for (const [template, item] of Object.entries(doc.paths)) {
      const first = Object.values(item)[0] as Operation;
      const { path } = sampleOf(first.operationId);
      const listed = HTTP_METHODS.filter((method) => item[method] !== undefined);
      const other = (['put', 'patch', 'delete', 'post'] as const).find(
        (method) => !listed.includes(method),
      );
      assert.ok(other, template);
      await visit('admin', other.toUpperCase(), path, 405);
      const options = await server.request('admin', 'OPTIONS', path);
      assert.equal(options.status, 200, `OPTIONS ${template}`);
      const allowed = String(options.headers.allow).split(/,\s*/).sort();
      const expected = listed.flatMap((method) =>
        method === 'get' ? ['GET', 'HEAD'] : [method.toUpperCase()],
      );
      assert.deepEqual(allowed, expected.sort(), `OPTIONS ${template}`);
    }
  });

  it('answers 410 when the output files are gone', async () => {
    const job = await server.startJob('alice', { command: 'echo', args: ['gone'] });
    await server.waitForEnd('alice', job.id);
    await unlink(join(server.dataDir, 'jobs', job.id, 'output.log'));
    await visit('alice', 'GET', `/v1/jobs/${job.id}/output`, 410);
  });

  it('answers 429 TOO_MANY_JOBS with Retry-After past the running-job cap', async () => {
    const sleepers = [
      await server.startJob('bob', { command: 'sleep', args: ['600'] }),
      await server.startJob('bob', { command: 'sleep', args: ['600'] }),
    ];
    const refused = await visit('bob', 'POST', '/v1/jobs?queue=false', 429, {
      json: { command: 'true' },
    });
    assert.equal(refused.json().code, 'TOO_MANY_JOBS');
    for (const job of sleepers) await visit('bob', 'POST', `/v1/jobs/${job.id}/stop`, 202);
    for (const job of sleepers) await server.waitForEnd('bob', job.id);
  });

  it('answers 429 TOO_MANY_REQUESTS with Retry-After past the request rate', async () => {
    let throttled: Response | undefined;
    for (let round = 0; round < 100 && throttled === undefined; round += 1) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, () => observe('auditor', 'GET', '/healthz')),
      );
      throttled = batch.find((response) => response.status === 429);
    }
    assert.ok(throttled, 'the rate limit answered 429');
    assert.equal(throttled.json().code, 'TOO_MANY_REQUESTS');
  });

  it('answers 403 CLIENT_DISABLED to a client the identity policy disables', async () => {
    const mark = server.logs.length;
    await writeFile(
      join(server.certsDir, 'policy.json'),
      JSON.stringify({ clients: { bob: { disabled: true } } }),
    );
    await server.waitForLog((entry) => entry.msg === 'identity policy reloaded', mark);
    for (const { method, operation } of operations()) {
      const { path, json } = sampleOf(operation.operationId);
      const refused = await visit(
        'bob',
        method.toUpperCase(),
        path,
        403,
        json === undefined ? {} : { json },
      );
      assert.equal(refused.json().code, 'CLIENT_DISABLED');
    }
  });

  it('met a success of every operation, and says which documented answers it did not meet', (t: TestContext) => {
    const unmet: string[] = [];
    for (const { operation } of operations()) {
      const statuses = Object.keys(operation.responses);
      assert.ok(
        statuses.some(
          (status) =>
            // 101: a WebSocket's success (attach).
            (status.startsWith('2') || status === '101') &&
            met.has(`${operation.operationId} ${status}`),
        ),
        `the tour never got a success from ${operation.operationId}`,
      );
      unmet.push(
        ...statuses
          .filter((status) => !met.has(`${operation.operationId} ${status}`))
          .map((status) => `${operation.operationId} ${status}`),
      );
    }
    t.diagnostic(`documented answers the tour does not provoke: ${unmet.join(', ')}`);
  });
});

function mediaTypeMatches(documented: string, observed: string): boolean {
  const [documentedEssence, ...documentedParameters] = mediaTypeParts(documented);
  const [observedEssence, ...observedParameters] = mediaTypeParts(observed);
  return (
    documentedEssence === observedEssence &&
    documentedParameters.every((parameter) => observedParameters.includes(parameter))
  );
}

function mediaTypeParts(mediaType: string): string[] {
  return mediaType.split(';').map((part) => part.trim().toLowerCase());
}

/** A header's text as its schema's type: an integer header is checked as a number. */
function headerValue(header: Header, value: string): unknown {
  return header.schema.type === 'integer' ? Number(value) : value;
}
