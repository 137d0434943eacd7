// The bench's API client: node:https over mutual TLS with keep-alive agents, timing each request
// from the moment it is handed to the socket. Thin on purpose, so the client's own cost stays
// small next to the server's.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import type { Job } from '../../src/jobs/job.ts';
import type { BenchServer } from './server.ts';
import type { PatternCheck } from './verify.ts';

export interface ApiClient {
  readonly agent: Agent;
  readonly port: number;
}

/** A keep-alive client authenticated as a development client (alice is an ordinary user). */
export function apiClient(
  server: BenchServer,
  options: { name?: string; maxSockets?: number } = {},
): ApiClient {
  const credentials = server.api.credentials(options.name ?? 'alice');
  const agent = new Agent({
    ...credentials,
    keepAlive: true,
    servername: 'localhost',
    maxSockets: options.maxSockets ?? Infinity,
    // A follower may wait for output longer than the default socket timeout of none; keep none.
  });
  return { agent, port: server.port };
}

export interface Sent {
  /** performance.now() when the request was written. */
  readonly sentAt: number;
  readonly response: Promise<IncomingMessage>;
}

export function send(client: ApiClient, method: string, path: string, json?: unknown): Sent {
  const body = json === undefined ? undefined : JSON.stringify(json);
  const headers: Record<string, string> = {};
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  let sentAt = performance.now();
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: client.port, method, path, headers, agent: client.agent },
      resolve,
    );
    req.once('error', reject);
    sentAt = performance.now();
    req.end(body);
  });
  return { sentAt, response };
}

/** Reads a response to its end, feeding every chunk to `check`; returns the byte count. */
export async function consume(response: IncomingMessage, check?: PatternCheck): Promise<number> {
  let bytes = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    check?.update(chunk);
  }
  return bytes;
}

export interface JsonResponse<T> {
  readonly status: number;
  readonly body: T;
  /** Request written → response headers. */
  readonly ms: number;
  readonly trailers: NodeJS.Dict<string>;
  readonly headers: IncomingHttpHeaders;
}

export async function requestJson<T = Record<string, unknown>>(
  client: ApiClient,
  method: string,
  path: string,
  json?: unknown,
): Promise<JsonResponse<T>> {
  const sent = send(client, method, path, json);
  const response = await sent.response;
  const ms = performance.now() - sent.sentAt;
  const chunks: Buffer[] = [];
  for await (const chunk of response as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: T;
  try {
    body = (text === '' ? {} : JSON.parse(text)) as T;
  } catch {
    throw new Error(`${method} ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
  }
  return {
    status: response.statusCode ?? 0,
    body,
    ms,
    trailers: response.trailers,
    headers: response.headers,
  };
}

/** Like requestJson, but any status other than `expected` is an error. */
export async function expectJson<T = Record<string, unknown>>(
  client: ApiClient,
  expected: number,
  method: string,
  path: string,
  json?: unknown,
): Promise<JsonResponse<T>> {
  const response = await requestJson<T>(client, method, path, json);
  if (response.status !== expected) {
    throw new Error(
      `${method} ${path}: ${response.status}, expected ${expected}: ${JSON.stringify(response.body).slice(0, 300)}`,
    );
  }
  return response;
}

/** A job as the API answers it: the wire type, from the schema the document is made of. */
export type JobRecord = Job;

export async function startJob(
  client: ApiClient,
  command: string,
  args: readonly string[] = [],
  more: Record<string, unknown> = {},
): Promise<JobRecord> {
  const spec = { command, args, ...more };
  return (await expectJson<JobRecord>(client, 201, 'POST', '/v1/jobs', spec)).body;
}

/** Every job a listing selects, following its pages (RFC 8288 `Link: <...>; rel="next"`). */
export async function listAllJobs(client: ApiClient, query = 'limit=1000'): Promise<JobRecord[]> {
  const jobs: JobRecord[] = [];
  let path: string | undefined = `/v1/jobs?${query}`;
  while (path !== undefined) {
    const page: JsonResponse<{ jobs: JobRecord[] }> = await expectJson<{ jobs: JobRecord[] }>(
      client,
      200,
      'GET',
      path,
    );
    jobs.push(...page.body.jobs);
    const link = page.headers.link;
    path = typeof link === 'string' ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
  }
  return jobs;
}

/** Deletes an ended job and its output, so gigabytes of bench output do not pile up on disk. */
export async function deleteJob(client: ApiClient, id: string): Promise<void> {
  await expectJson(client, 204, 'DELETE', `/v1/jobs/${id}`);
}

/** Runs `fn` over `items` with at most `concurrency` in flight; resolves with results in order. */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
