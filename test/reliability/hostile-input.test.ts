// Hostile input against the real server: property-based fuzzing of every endpoint (bodies, types,
// sizes, unicode, ids in paths, query strings, headers, malformed HTTP on raw TLS sockets) never
// gets a 5xx, never crashes the server, and every 4xx is problem+json. Then the inputs with a
// meaning of their own: path traversal in cwd, environment injection, argv that looks like options.
//
// Deterministic: a fixed seed and a fixed number of runs per property (REL_FUZZ_SEED and
// REL_FUZZ_RUNS override them for a longer session).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import fc from 'fast-check';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

const SEED = Number(process.env.REL_FUZZ_SEED ?? 20_261_123);
const RUNS = Number(process.env.REL_FUZZ_RUNS ?? 250);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Strings with the characters that break naive code: NUL, lone surrogates, BOM, bidi, astral. */
const nastyChar = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  fc.constantFrom('\0', '\ud800', '\udfff', '\ufeff', '\u202e', '\uffff', '\u{1f4a9}', '%', '/'),
  fc.constantFrom('..', '../', '\\', '"', "'", '$(id)', '`id`', ';', '\n', '\r\n', '*', '~'),
);
const nastyString = (maxLength = 40): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: nastyChar, maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary-ascii', maxLength }),
  );
const anyJson = fc.jsonValue({ maxDepth: 3, stringUnit: nastyChar });

/**
 * Commands the fuzzer may really run: they end at once whatever their arguments, so a followed
 * start never hangs, and none of them does anything to the host.
 */
const harmlessCommand = fc.constantFrom('true', 'false', 'echo', '/bin/echo', '/nonexistent/x');

const limitsValue = fc.oneof(
  fc.record(
    {
      cpus: fc.oneof(fc.double(), fc.integer(), anyJson),
      memory: fc.oneof(
        fc.constantFrom('64M', '1b', '0', '-1', '1e9', '10QB'),
        fc.integer(),
        anyJson,
      ),
      pids: fc.oneof(fc.integer({ min: -5, max: 100_000 }), anyJson),
      ioReadBps: fc.oneof(fc.constantFrom('1M', ''), fc.integer(), anyJson),
      ioWriteBps: fc.oneof(fc.constantFrom('1M', 'x'), fc.double(), anyJson),
      extra: anyJson,
    },
    { requiredKeys: [] },
  ),
  anyJson,
);

/** Bodies shaped like a job request, each field either plausible or of the wrong type. */
const jobShaped = fc.record(
  {
    command: fc.oneof({ weight: 3, arbitrary: harmlessCommand }, anyJson, nastyString(5000)),
    args: fc.oneof(
      fc.array(nastyString(), { maxLength: 20 }),
      fc.array(fc.constant('x'), { minLength: 4090, maxLength: 4100 }),
      anyJson,
    ),
    env: fc.oneof(
      fc.dictionary(nastyString(12), nastyString(), { maxKeys: 10 }),
      fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), fc.string(), {
        minKeys: 250,
        maxKeys: 260,
      }),
      anyJson,
    ),
    cwd: fc.oneof(
      fc.constantFrom('/', '/tmp', '../../etc', '/../../etc', ''),
      nastyString(),
      anyJson,
    ),
    limits: limitsValue,
    timeout: fc.oneof(
      fc.constantFrom('1s', '5m', '0', '-1s', '1e400', 'forever'),
      fc.double(),
      anyJson,
    ),
    unknown: anyJson,
  },
  { requiredKeys: [] },
);

/** Requests the API accepts, with hostile strings where any string is allowed: real jobs run. */
const validJob = fc.record(
  {
    command: harmlessCommand,
    args: fc.array(
      nastyString().map((arg) => arg.replaceAll('\0', '')),
      { maxLength: 12 },
    ),
    env: fc.dictionary(
      fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/),
      nastyString().map((value) => value.replaceAll('\0', '')),
      { maxKeys: 8 },
    ),
    cwd: fc.constantFrom('/', '/tmp', '/nonexistent', '/etc/../tmp', '/proc/self'),
    limits: fc.record(
      {
        cpus: fc.double({ min: 0.01, max: 2, noNaN: true }),
        memory: fc.constantFrom('16M', '64M', '1G', 100_000_000),
        pids: fc.integer({ min: 8, max: 512 }),
        ioReadBps: fc.constantFrom('1M', '100M'),
        ioWriteBps: fc.constantFrom('1M', 1_048_576),
      },
      { requiredKeys: [] },
    ),
    timeout: fc.constantFrom('5s', 10, '1m'),
  },
  { requiredKeys: ['command'] },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/problem+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'text/plain',
  'application/*',
  '*/*',
  'application/json, text/plain',
  'application/json;;;',
  'application/json; a="\\"',
];

/** A body of any kind: JSON of any shape, job-shaped JSON, raw bytes, or one too large. */
const body = fc.oneof(
  { weight: 4, arbitrary: validJob.map((value) => JSON.stringify(value)) },
  { weight: 4, arbitrary: jobShaped.map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: anyJson.map((value) => JSON.stringify(value)) },
  fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(
    '',
    ' ',
    '{',
    '{"command":',
    'null',
    '"echo"',
    '[]',
    '{"command":"echo","command":{"a":1}}',
    '{"command":"true","__proto__":{"x":1}}',
    '{"command":"true","env":{"__proto__":"x","constructor":"y"}}',
    '\ufeff{"command":"true"}',
    '{"command":"true"}\u0000',
    `${'['.repeat(30_000)}${']'.repeat(30_000)}`,
    `{"command":"echo","args":["${'x'.repeat(70_000)}"]}`,
    `{"command":"echo","args":[${Array.from({ length: 16_000 }, () => '1').join(',')}]}`,
  ),
);

/** A path segment: percent-encoded arbitrary bytes, dot segments, encoded slashes and NULs. */
const pathId = fc.oneof(
  fc.uuid(),
  fc
    .array(
      fc.oneof(
        fc.integer({ min: 0, max: 255 }).map((byte) => `%${byte.toString(16).padStart(2, '0')}`),
        fc.constantFrom('..', '.', '%2F', '%2f', '%2e%2e', '%00', '%', '%zz', '%E0%A4%A', ';', '~'),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/),
      ),
      { maxLength: 30 },
    )
    .map((parts) => parts.join('')),
  fc.constantFrom('..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e', '..', 'a'.repeat(4000), '%00'),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.uuid().map((id) => `${id}%00`),
);

/** A query string: known keys with good and bad values, repeated keys, unknown keys, bad escapes. */
const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom('follow', 'stream', 'offset', 'status', 'limit', 'since', 'client'),
        fc.constantFrom('__proto__', 'constructor', 'follow[]', 'a[b]', '', '%', '%00'),
        fc.stringMatching(/^[a-z]{1,6}$/),
      ),
      fc.oneof(
        fc.constantFrom('true', 'false', '1', '0', 'stdout', 'stderr', 'all', 'running', 'exited'),
        fc.constantFrom('-1', '1e400', '9007199254740993', 'NaN', '0x10', '', '%', '%zz', '%00'),
        fc.uint8Array({ maxLength: 12 }).map((bytes) => encodeURIComponent(bytes.toString())),
      ),
    ),
    { maxLength: 6 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

/** Headers Node's client lets us send, with names and values that matter to the server. */
/** Headers that frame the message: the client sets them itself, raw sockets fuzz them. */
const FRAMING = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'expect',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
]);
const headers = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'content-type',
      'accept',
      'content-encoding',
      'accept-encoding',
      'x-forwarded-for',
      'x-request-id',
      'authorization',
      'cookie',
      'range',
      'if-none-match',
      'origin',
      'forwarded',
    ),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).filter((name) => !FRAMING.has(name)),
  ),
  fc.oneof(
    fc.constantFrom(...CONTENT_TYPES),
    fc.constantFrom('gzip', 'bytes=0-1', 'bytes=-1', '*', '../../etc', 'null'),
    fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
  ),
  { maxKeys: 6 },
);

/** The log line of a request whose body the client broke off, were it logged as our fault. */
function isAbortedBody(line: Record<string, unknown>): boolean {
  return line.msg === 'request failed' && (line.err as { message?: string }).message === 'aborted';
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** What every answer must satisfy; returns the problem's code for 4xx, or undefined. */
function assertWellFormed(answer: Answer, method: string, what: string): string | undefined {
  assert.ok(
    answer.status >= 200 && answer.status < 500,
    `${what} → ${answer.status} ${answer.text}`,
  );
  if (answer.status < 400 || method === 'HEAD') return undefined;
  assert.match(
    String(answer.headers['content-type']),
    /^application\/problem\+json/,
    `${what} → ${answer.status} is problem+json`,
  );
  const problem = JSON.parse(answer.text) as Record<string, unknown>;
  assert.equal(problem.status, answer.status, what);
  for (const field of ['code', 'title', 'detail', 'type']) {
    assert.equal(typeof problem[field], 'string', `${what}: problem.${field}`);
  }
  assert.ok(!answer.text.includes('    at '), `${what}: no stack trace`);
  return String(problem.code);
}

/** One HTTP exchange over raw TLS: what any byte sequence gets back, up to `timeoutMs`. */
function rawExchange(
  server: TestServer,
  payload: Buffer | string,
  timeoutMs = 3000,
): Promise<{ statuses: number[]; text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({
      host: '127.0.0.1',
      port: server.port,
      servername: 'localhost',
      ...server.credentials('alice'),
    });
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) =>
        Number(m[1]),
      );
      resolve({ statuses, text, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('secureConnect', () => socket.write(payload));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => finish(true));
  });
}

describe('hostile input', () => {
  let server: TestServer;
  /** Inputs tried per property, reported at the end. */
  const tried: Record<string, number> = {};
  const codes = new Map<string, number>();
  let endedJob: Job;
  let bobsJob: Job;

  before(async () => {
    server = await startServer();
    endedJob = await server.waitForEnd(
      'alice',
      (await server.startJob('alice', { command: 'echo', args: ['hi'] })).id,
    );
    bobsJob = await server.waitForEnd(
      'bob',
      (await server.startJob('bob', { command: 'echo', args: ['bob'] })).id,
    );
  });

  after(async () => {
    const total = Object.values(tried).reduce((sum, n) => sum + n, 0);
    console.log(
      `hostile input: ${total} inputs tried (seed ${SEED}) ${JSON.stringify(tried)}; ` +
        `codes ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    await server.dispose();
  });

  async function send(
    client: string,
    method: string,
    path: string,
    options: { body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const response = await server.request(client, method, path, options);
    return { status: response.status, headers: response.headers, text: response.text() };
  }

  function record(property: string, answer: Answer, method: string, what: string): void {
    tried[property] = (tried[property] ?? 0) + 1;
    const code = assertWellFormed(answer, method, what);
    const key = `${answer.status}${code === undefined ? '' : ` ${code}`}`;
    codes.set(key, (codes.get(key) ?? 0) + 1);
  }

  /** Error-level log lines (a request that failed inside the server), but for `aborted` ones. */
  const internalFailures = (): unknown[] =>
    server.logs
      .filter((line) => Number(line.level) >= 50 && !isAbortedBody(line))
      .map((line) => ({ msg: line.msg, err: line.err }));

  async function assertStillServing(): Promise<void> {
    assert.equal(server.child.exitCode, null, 'the server is alive');
    assert.equal(server.child.signalCode, null, 'the server is alive');
    const health = await send('bob', 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(internalFailures(), [], 'no request failed inside the server');
  }

  const property = <T>(arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>) =>
    fc.assert(fc.asyncProperty(arbitrary, check), {
      seed: SEED,
      numRuns: RUNS,
      endOnFailure: true,
    });

  it('POST /v1/jobs: any body, content type, query and client', { timeout: 60_000 }, async () => {
    await property(
      fc.record({
        body,
        contentType: fc.oneof(
          { weight: 3, arbitrary: fc.constant('application/json') },
          fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined, freq: 6 }),
        ),
        query: fc.oneof(fc.constant(''), fc.constant('?follow=true'), queryString),
        client: fc.constantFrom('alice', 'alice', 'admin', 'auditor'),
      }),
      async ({ body: content, contentType, query, client }) => {
        const answer = await send(client, 'POST', `/v1/jobs${query}`, {
          body: content,
          headers: contentType === undefined ? {} : { 'content-type': contentType },
        });
        const what = `POST /v1/jobs${query} as ${client} (${contentType}) ${String(content).slice(0, 200)}`;
        record('start', answer, 'POST', what);
        // Without follow the answer is the job; with it (follow=true or 1), its output.
        if (
          answer.status === 201 &&
          /^application\/json/.test(String(answer.headers['content-type']))
        ) {
          assert.match((JSON.parse(answer.text) as Job).id, UUID);
        }
      },
    );
    await assertStillServing();
  });

  it('job routes: any id, query and method', { timeout: 60_000 }, async () => {
    const routes: [method: string, suffix: string][] = [
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/stop'],
      ['GET', '/output'],
      ['GET', '/stop'],
      ['PUT', ''],
      ['PATCH', '/output'],
    ];
    await property(
      fc.record({
        id: fc.oneof(
          { weight: 4, arbitrary: pathId },
          fc.constant(endedJob.id),
          fc.constant(bobsJob.id),
        ),
        route: fc.constantFrom(...routes),
        query: queryString,
        client: fc.constantFrom('alice', 'bob', 'auditor', 'admin'),
      }),
      async ({ id, route: [method, suffix], query, client }) => {
        const path = `/v1/jobs/${id}${suffix}${query}`;
        const answer = await send(client, method, path);
        record('job routes', answer, method, `${method} ${path} as ${client}`);
        // An id that is not a job id never reaches anything but a 404 (or 400/405 before it).
        if (!UUID.test(id) && !id.includes('%2F') && !id.includes('%2f')) {
          assert.ok([400, 403, 404, 405, 413, 431].includes(answer.status), `${path}`);
        }
      },
    );
    await assertStillServing();
  });

  it(
    'every route and unknown paths: any method, query and headers',
    { timeout: 60_000 },
    async () => {
      const paths = [
        '/healthz',
        '/v1/jobs',
        '/v1/jobs/',
        '/v1/audit',
        '/metrics',
        '/.well-known/jwks.json',
        '/',
        '/v2/jobs',
        '//v1/jobs',
        '/v1/jobs/../healthz',
        '/v1/%2e%2e/healthz',
        '/%',
        '/V1/JOBS',
      ];
      await property(
        fc.record({
          path: fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...paths) },
            pathId.map((id) => `/${id}`),
          ),
          // Methods Node's HTTP parser knows, so every request reaches the application.
          method: fc.constantFrom(
            'GET',
            'HEAD',
            'POST',
            'PUT',
            'PATCH',
            'DELETE',
            'OPTIONS',
            'TRACE',
          ),
          query: queryString,
          headers,
          client: fc.constantFrom('alice', 'auditor', 'admin'),
        }),
        async ({ path, method, query, headers: extra, client }) => {
          const answer = await send(client, method, `${path}${query}`, { headers: extra });
          record('any route', answer, method, `${method} ${path}${query} ${JSON.stringify(extra)}`);
        },
      );
      await assertStillServing();
    },
  );

  it(
    'malformed HTTP on raw TLS sockets is refused without a 5xx',
    { timeout: 60_000 },
    async () => {
      const line = (method: string, target: string): string => `${method} ${target} HTTP/1.1\r\n`;
      const close = 'Host: localhost\r\nConnection: close\r\n';
      // Each payload, and how long to wait for the server to close: the upgrade requests and the
      // bare line breaks leave a connection open (no 'Connection: close' applies), so little.
      const explicit: (string | [string, number])[] = [
        `${line('GET', '/healthz')}${close}\r\n`,
        `${line('get', '/healthz')}${close}\r\n`,
        `${line('FOO', '/v1/jobs')}${close}\r\n`,
        `${line('GET', 'https://evil.example/v1/jobs')}${close}\r\n`,
        `${line('GET', '*')}${close}\r\n`,
        `GET /healthz HTTP/1.0\r\n\r\n`,
        `GET /healthz HTTP/2.0\r\n${close}\r\n`,
        `GET /healthz\r\n\r\n`,
        `GET  /healthz  HTTP/1.1\r\n${close}\r\n`,
        `${line('GET', '/healthz')}${close}X: a\0b\r\n\r\n`,
        `${line('GET', '/healthz')}${close}X: a\r\n continued\r\n\r\n`,
        `${line('GET', '/healthz')}${close}Bad Header: x\r\n\r\n`,
        `${line('GET', '/healthz')}${close}: empty-name\r\n\r\n`,
        `${line('GET', '/healthz')}${close}X: ${'a'.repeat(20_000)}\r\n\r\n`,
        `${line('GET', `/v1/jobs/${'a'.repeat(20_000)}`)}${close}\r\n`,
        `${line('GET', '/healthz')}${close}${'X-A: b\r\n'.repeat(3000)}\r\n`,
        `${line('POST', '/v1/jobs')}${close}Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`,
        `${line('POST', '/v1/jobs')}${close}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`,
        `${line('POST', '/v1/jobs')}${close}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
        `${line('POST', '/v1/jobs')}${close}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        `${line('POST', '/v1/jobs')}${close}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
        `${line('POST', '/v1/jobs')}${close}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n`,
        `${line('POST', '/v1/jobs')}${close}Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
        `${line('POST', '/v1/jobs')}${close}Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}`,
        // Smaller than the body: the rest is read as a second request, which is garbage.
        `${line('POST', '/v1/jobs')}Host: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}GARBAGE\r\n\r\n`,
        `${line('GET', '/healthz')}${close}Expect: 100-continue\r\n\r\n`,
        `${line('GET', '/healthz')}${close}Expect: something-else\r\n\r\n`,
        [
          `${line('GET', '/healthz')}Host: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
          500,
        ],
        [
          `${line('GET', '/healthz')}Host: localhost\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
          500,
        ],
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
        ['\r\n\r\n\r\n', 500],
        '\u0016\u0003\u0001\u0000\u0005hello',
      ];
      const failures: string[] = [];
      for (const entry of explicit) {
        const [payload, timeoutMs] = typeof entry === 'string' ? [entry, 3000] : entry;
        const answer = await rawExchange(server, payload, timeoutMs);
        tried['raw explicit'] = (tried['raw explicit'] ?? 0) + 1;
        for (const status of answer.statuses) {
          if (status >= 500) failures.push(`${JSON.stringify(payload.slice(0, 120))} → ${status}`);
        }
      }
      assert.deepEqual(failures, []);

      // Arbitrary bytes in the request line and headers of an otherwise complete request.
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            method: fc.oneof(fc.constantFrom('GET', 'POST', 'DELETE'), fc.string({ maxLength: 8 })),
            target: fc.oneof(
              pathId.map((id) => `/v1/jobs/${id}`),
              fc.string({ unit: 'binary-ascii', maxLength: 60 }),
            ),
            headerBlock: fc.string({ unit: 'binary-ascii', maxLength: 300 }),
            body: fc.uint8Array({ maxLength: 200 }),
          }),
          async ({ method, target, headerBlock, body: bytes }) => {
            const head = `${method} ${target} HTTP/1.1\r\n${close}${headerBlock.replaceAll('\r\n\r\n', '\r\n')}\r\n`;
            const payload = Buffer.concat([
              Buffer.from(`${head}Content-Length: ${bytes.length}\r\n\r\n`, 'latin1'),
              Buffer.from(bytes),
            ]);
            const answer = await rawExchange(server, payload, 2000);
            tried['raw fuzz'] = (tried['raw fuzz'] ?? 0) + 1;
            for (const status of answer.statuses) {
              assert.ok(
                status < 500,
                `${JSON.stringify(payload.toString('latin1').slice(0, 200))} → ${status}`,
              );
            }
          },
        ),
        { seed: SEED, numRuns: Math.min(RUNS, 150), endOnFailure: true },
      );
      await assertStillServing();
    },
  );

  it('answers malformed HTTP with problem+json too', async () => {
    const answer = await rawExchange(
      server,
      'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: abc\r\n\r\n',
    );
    assert.deepEqual(answer.statuses, [400]);
    assert.match(answer.text, /application\/problem\+json/);
  });

  it('does not log a body the client broke off as an internal error', async () => {
    const mark = server.logs.length;
    await rawExchange(
      server,
      'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    );
    await server.waitForLog((line) => line.msg === 'request', mark);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(server.logs.slice(mark).filter(isAbortedBody), []);
  });

  describe('inputs with a meaning', () => {
    async function run(
      spec: Record<string, unknown>,
      client = 'alice',
    ): Promise<{ output: Buffer; status: string | undefined; job: Job }> {
      const response = await server.request(client, 'POST', '/v1/jobs?follow=true', { json: spec });
      assert.equal(response.status, 201, response.text());
      const job = (await server.request(client, 'GET', response.headers.location!)).json<Job>();
      return { output: response.body, status: response.trailers['job-status'], job };
    }

    it('refuses a relative cwd, and runs an absolute one with dot segments where it leads', async () => {
      for (const cwd of ['../../etc', 'etc', '', './']) {
        const answer = await send('alice', 'POST', '/v1/jobs', {
          body: JSON.stringify({ command: 'pwd', cwd }),
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(answer.status, 400, cwd);
        const problem = JSON.parse(answer.text) as { errors: { field: string }[] };
        assert.deepEqual(
          problem.errors.map((error) => error.field),
          ['cwd'],
        );
      }
      // The documented model: cwd is a path as the job sees it (in the sandbox, its own root), so
      // '..' is resolved by the kernel inside that root, and the job's permissions bound the rest.
      const { output, status, job } = await run({ command: '/bin/pwd', cwd: '/tmp/../../etc' });
      assert.equal(status, 'exited');
      assert.equal(output.toString(), '/etc\n');
      assert.equal(job.cwd, '/tmp/../../etc', 'the record keeps what was asked');
      const nul = await send('alice', 'POST', '/v1/jobs', {
        body: JSON.stringify({ command: 'pwd', cwd: '/tmp\u0000/etc' }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(nul.status, 400);
    });

    it("cannot read the server's keys or database from a job", async () => {
      // Not only because the test's directories are private: the files are, wherever they live.
      for (const path of [
        join(server.certsDir, 'ca-key.pem'),
        join(server.certsDir, 'server-key.pem'),
        server.dataDir,
      ]) {
        assert.equal(statSync(path).mode & 0o077, 0, `${path} is private to the server`);
      }
      for (const file of [
        join(server.certsDir, 'ca-key.pem'),
        join(server.certsDir, 'server-key.pem'),
        join(server.certsDir, 'clients', 'admin', 'key.pem'),
        join(server.dataDir, 'jobworker.db'),
      ]) {
        const { output, job } = await run({ command: 'cat', args: [file] });
        assert.notEqual(job.exitCode, 0, `${file} is not readable by a job`);
        assert.equal(output.includes('PRIVATE KEY'), false);
        assert.equal(output.includes('SQLite format'), false);
      }
    });

    it("gives a job exactly its base environment plus what it asked for, never the server's", async () => {
      const { output } = await run({
        command: 'env',
        env: { PATH: '/opt/evil:/usr/bin:/bin', FOO: 'bar', LD_LIBRARY_PATH: '/tmp' },
      });
      const names = output
        .toString()
        .trim()
        .split('\n')
        .map((entry) => entry.split('=')[0])
        .sort();
      assert.deepEqual(names, [
        'FOO',
        'HOME',
        'LANG',
        'LD_LIBRARY_PATH',
        'LOGNAME',
        'PATH',
        'USER',
      ]);
      assert.match(output.toString(), /^PATH=\/opt\/evil:\/usr\/bin:\/bin$/m);
      // The policy (src/launcher/environment.ts): a client may override every variable,
      // PATH included, for its own job; its PATH only changes how its own command is found.
      const found = await send('alice', 'POST', '/v1/jobs?follow=true', {
        body: JSON.stringify({
          command: 'printenv',
          args: ['PATH'],
          env: { PATH: '/nonexistent' },
        }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(found.status, 422, 'printenv is not found on a PATH that lacks it');
      assert.match(found.text, /command not found: printenv \(PATH=\/nonexistent\)/);
    });

    it('LD_PRELOAD and LD_LIBRARY_PATH reach only the job, never the root supervisor', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'jobworker-preload-'));
      try {
        chmodSync(dir, 0o755);
        const reports = join(dir, 'reports');
        execFileSync('mkdir', ['-m', '0700', reports]);
        // The library records which process loaded it; only root can write into `reports`,
        // so a report exists only if a root process loaded it.
        const source = join(dir, 'probe.c');
        const library = join(dir, 'probe.so');
        const code =
          '#include <stdio.h>\n#include <unistd.h>\n' +
          '__attribute__((constructor)) static void probe(void) {\n' +
          `  char path[256]; snprintf(path, sizeof path, "${reports}/%d", getpid());\n` +
          '  FILE *f = fopen(path, "w"); if (f) { fprintf(f, "uid=%d\\n", getuid()); fclose(f); }\n}\n';
        execFileSync('sh', ['-c', `cat > ${source}`], { input: code });
        execFileSync('cc', ['-shared', '-fPIC', '-o', library, source]);
        chmodSync(library, 0o644);
        const { status } = await run({ command: 'true', env: { LD_PRELOAD: library } });
        assert.equal(status, 'exited');
        const loadedByRoot = readdirSync(reports).map((pid) =>
          readFileSync(join(reports, pid), 'utf8').trim(),
        );
        assert.deepEqual(loadedByRoot, [], 'no root process loaded the client-chosen library');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('passes argv that looks like options, or like shell, verbatim', async () => {
      const echoed = await run({ command: 'echo', args: ['-rf', '/'] });
      assert.equal(echoed.output.toString(), '-rf /\n');
      const help = await run({ command: 'echo', args: ['--help', '--version', '-e', '\\n'] });
      assert.equal(help.output.toString(), '--help --version -e \\n\n');
      const shellish = ['--', '$(id)', '`id`', '; rm -rf /', '*', '~', '${PATH}', "'", '"', ''];
      const printed = await run({ command: 'printf', args: ['%s\\0', ...shellish] });
      assert.deepEqual(printed.output.toString().split('\0').slice(0, -1), shellish);
      const option = await send('alice', 'POST', '/v1/jobs?follow=true', {
        body: JSON.stringify({ command: '--help' }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(option.status, 422, 'a command named like an option is just not found');
      assert.match(option.text, /command not found: --help /);
    });

    it('round-trips any argv byte for byte', { timeout: 60_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            nastyString(60).map((arg) => arg.replaceAll('\0', '')),
            { maxLength: 8 },
          ),
          async (args) => {
            tried['argv round trip'] = (tried['argv round trip'] ?? 0) + 1;
            const { output, status } = await run({ command: 'printf', args: ['%s\\0', ...args] });
            assert.equal(status, 'exited');
            // Strings travel as UTF-8; a lone surrogate becomes U+FFFD, as in any UTF-8 encoder.
            const expected = Buffer.concat(
              args.map((arg) => Buffer.concat([Buffer.from(arg, 'utf8'), Buffer.alloc(1)])),
            );
            // With no arguments printf still applies its format once, to an empty string.
            assert.deepEqual(output, args.length === 0 ? Buffer.alloc(1) : expected);
          },
        ),
        { seed: SEED, numRuns: 40, endOnFailure: true },
      );
    });
  });

  it('keeps serving after all of the above, and nothing was left running', async () => {
    await assertStillServing();
    const running = (await send('admin', 'GET', '/v1/jobs?status=running')).text;
    assert.deepEqual((JSON.parse(running) as { jobs: Job[] }).jobs, []);
    assert.ok(existsSync(server.dataDir));
  });

  // Last: it leaves an error in the log, which the checks above would count.
  it('refuses with 400 a CPU limit too small for the kernel, rather than accepting a job that fails', async () => {
    const answer = await send('alice', 'POST', '/v1/jobs', {
      body: JSON.stringify({ command: 'true', limits: { cpus: 0.005 } }),
      headers: { 'content-type': 'application/json' },
    });
    if (answer.status === 201) {
      const job = await server.waitForEnd('alice', (JSON.parse(answer.text) as Job).id);
      assert.fail(`201, then the job ended ${job.status}: ${job.error}`);
    }
    assert.equal(answer.status, 400);
  });
});
