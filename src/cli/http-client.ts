// The API client: node:https over one keep-alive agent that carries the client certificate, so a
// command's requests share connections and TLS handshakes. Every failure comes out as a CliError
// whose message explains it; the explanations live in a module loaded only when something fails.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import { TraceContext } from './trace.ts';
import {
  connect as tlsConnect,
  createSecureContext,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import type { ConnectionSettings, Setting } from './connection.ts';
import { ApiError, CliError } from './errors.ts';
import type { RequestPhase } from './explain-error.ts';

/** A server that does not answer the handshake within this time is reported unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Error bodies are small problem+json documents; anything longer is cut. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export class ApiClient {
  readonly settings: ConnectionSettings;
  readonly #agent: Agent;
  readonly #secureContext: SecureContext;
  readonly #spares = new Set<TLSSocket>();
  readonly #trace = new TraceContext(process.env.TRACEPARENT);

  private constructor(settings: ConnectionSettings, secureContext: SecureContext) {
    this.settings = settings;
    this.#secureContext = secureContext;
    this.#agent = new Agent({ keepAlive: true, secureContext });
  }

  /** Reads the CA, certificate and key; fails with the file and setting that is wrong. */
  static async create(settings: ConnectionSettings): Promise<ApiClient> {
    const ca = readTlsFile(settings.ca, 'CA certificate');
    const cert = readTlsFile(settings.cert, 'client certificate');
    const key = readTlsFile(settings.key, 'client key');
    try {
      return new ApiClient(settings, createSecureContext({ ca, cert, key }));
    } catch (error) {
      const { explainCredentialsError } = await import('./explain-error.ts');
      throw explainCredentialsError(error, settings);
    }
  }

  /**
   * Opens a connection now, for one request to be sent later with `upload(..., { connection })`:
   * its TLS handshake then overlaps whatever comes first. Closed after that one request.
   */
  preconnect(): TLSSocket {
    const { host, port } = this.#endpoint();
    const socket = tlsConnect({
      host,
      port,
      secureContext: this.#secureContext,
      ...(isIP(host) ? {} : { servername: host }),
    });
    // A spare connection that fails is simply not used: the request goes through the agent.
    socket.on('error', () => undefined);
    this.#spares.add(socket);
    socket.once('close', () => this.#spares.delete(socket));
    return socket;
  }

  /**
   * Opens a WebSocket on `path` with the client's credentials, speaking `protocol`; a refusal
   * is the API's problem, as for any request. The ws library is loaded only here.
   */
  async webSocket(path: string, protocol: string): Promise<WebSocket> {
    const { WebSocket } = await import('ws');
    const url = new URL(path, this.settings.url);
    url.protocol = 'wss:';
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, [protocol], {
        // Its own connection, not a kept-alive one: it will not be an HTTP connection again.
        // Only reaching the server is timed: its answer may wait for a queued job to start.
        agent: new ConnectTimeoutAgent({ secureContext: this.#secureContext }),
        headers: { traceparent: this.#trace.traceparent() },
        perMessageDeflate: false,
      });
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', (_request, response) => {
        void problemOf(response).then(reject);
      });
      socket.once('error', (error) => {
        void import('./explain-error.ts')
          .then(({ explainRequestError }) =>
            explainRequestError(error, this.settings, { secured: false, reused: false }),
          )
          .then(reject, reject);
      });
    });
  }

  /**
   * Sends a request; resolves with the response when it is a success, as soon as headers come.
   * `accept` names the media type wanted (JSON unless said).
   */
  async open(
    method: string,
    path: string,
    body?: unknown,
    options: { accept?: string } = {},
  ): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return this.#exchange(method, path, payload, options);
  }

  /**
   * Sends `source` as a request body, as it comes (chunked), at the pace the server reads it;
   * resolves with the response as `open` does. `request` receives the request, to cut it short;
   * `contentType` says what the bytes are (application/octet-stream unless said).
   */
  async upload(
    method: string,
    path: string,
    source: Readable,
    options: {
      connection?: TLSSocket;
      request?: (request: ClientRequest) => void;
      contentType?: string;
    } = {},
  ): Promise<IncomingMessage> {
    return this.#exchange(method, path, source, options);
  }

  async #exchange(
    method: string,
    path: string,
    payload: Buffer | Readable | undefined,
    options: ExchangeOptions,
  ): Promise<IncomingMessage> {
    const phase: RequestPhase = { secured: false, reused: false };
    let response: IncomingMessage;
    try {
      response = await this.#send(method, path, payload, phase, options);
    } catch (error) {
      if (error instanceof CliError) throw error;
      const { explainRequestError } = await import('./explain-error.ts');
      throw await explainRequestError(error, this.settings, phase);
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    throw await problemOf(response);
  }

  /** Sends a request and parses its JSON answer (undefined for 204 No Content). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.jsonWithLinks<T>(method, path, body)).body;
  }

  /** As json(), with the `rel="next"` target of the answer's Link header (RFC 8288), if any. */
  async jsonWithLinks<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ body: T; next?: string }> {
    const response = await this.open(method, path, body);
    const next = nextLink(response.headers.link);
    return { body: await this.#readJson<T>(response, method, path), ...(next ? { next } : {}) };
  }

  async #readJson<T>(response: IncomingMessage, method: string, path: string): Promise<T> {
    let text: string;
    try {
      text = (await readBody(response, Number.POSITIVE_INFINITY)).toString('utf8');
    } catch (error) {
      throw new CliError(
        'CONNECTION_FAILED',
        `lost the connection to ${this.settings.url.host} while reading its answer`,
        { cause: error },
      );
    }
    if (response.statusCode === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError('PROTOCOL', `the server's answer to ${method} ${path} is not JSON`);
    }
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
    for (const socket of this.#spares) socket.destroy();
  }

  /** Host and port to dial: IPv6 literals lose their URL brackets. */
  #endpoint(): { host: string; port: number } {
    const { hostname, port } = this.settings.url;
    return { host: hostname.replace(/^\[(.*)\]$/, '$1'), port: port === '' ? 443 : Number(port) };
  }

  #send(
    method: string,
    path: string,
    payload: Buffer | Readable | undefined,
    phase: RequestPhase,
    options: ExchangeOptions,
  ): Promise<IncomingMessage> {
    const { connection, accept = 'application/json', request: onRequest, contentType } = options;
    const { host, port } = this.#endpoint();
    const spare = connection !== undefined && !connection.destroyed ? connection : undefined;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          method,
          host,
          port,
          path,
          ...(spare === undefined ? { agent: this.#agent } : { createConnection: () => spare }),
          headers: {
            accept,
            traceparent: this.#trace.traceparent(),
            ...bodyHeaders(payload, contentType),
          },
        },
        resolve,
      );
      req.once('error', reject);
      onRequest?.(req);
      req.once('socket', (socket) => {
        if (socket === spare) {
          phase.secured = true;
          phase.reused = true;
          return;
        }
        if (!socket.connecting) {
          phase.secured = true;
          phase.reused = true;
          return;
        }
        const timer = setTimeout(() => {
          const error = new Error('connect timeout') as NodeJS.ErrnoException;
          error.code = 'ETIMEDOUT';
          req.destroy(error);
        }, CONNECT_TIMEOUT_MS);
        socket.once('secureConnect', () => {
          phase.secured = true;
          clearTimeout(timer);
        });
        socket.once('close', () => clearTimeout(timer));
      });
      if (payload instanceof Readable) payload.pipe(req);
      else req.end(payload);
    });
  }
}

/** How one request is sent: over a connection opened ahead, wanting a media type. */
interface ExchangeOptions {
  readonly connection?: TLSSocket | undefined;
  readonly accept?: string;
  /** Receives the request, to cut it short. */
  readonly request?: (request: ClientRequest) => void;
  /** The media type of a streamed body. */
  readonly contentType?: string | undefined;
}

function bodyHeaders(
  payload: Buffer | Readable | undefined,
  contentType = 'application/octet-stream',
): Record<string, string | number> {
  if (payload === undefined) return {};
  if (payload instanceof Readable) return { 'content-type': contentType };
  return { 'content-type': 'application/json', 'content-length': payload.length };
}

/** An agent whose connections fail if the TLS handshake is not done in CONNECT_TIMEOUT_MS. */
class ConnectTimeoutAgent extends Agent {
  override createConnection(
    ...args: Parameters<Agent['createConnection']>
  ): ReturnType<Agent['createConnection']> {
    const socket = super.createConnection(...args) as TLSSocket | null | undefined;
    if (socket) {
      const timer = setTimeout(() => {
        const error = new Error('connect timeout') as NodeJS.ErrnoException;
        error.code = 'ETIMEDOUT';
        socket.destroy(error);
      }, CONNECT_TIMEOUT_MS);
      socket.once('secureConnect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    }
    return socket;
  }
}

function readTlsFile(setting: Setting, what: string): Buffer {
  try {
    return readFileSync(setting.value);
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : (error as NodeJS.ErrnoException).code === 'EACCES'
          ? 'permission denied'
          : (error as Error).message;
    throw new CliError(
      'FILE_UNREADABLE',
      `cannot read the ${what} ${setting.value} (from ${setting.origin}): ${reason}`,
      { cause: error },
    );
  }
}

function nextLink(header: string | string[] | undefined): string | undefined {
  const links = Array.isArray(header) ? header.join(',') : header;
  for (const link of links?.split(',') ?? []) {
    const match = /^\s*<([^>]*)>\s*;\s*rel="?next"?\s*$/.exec(link);
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

async function problemOf(response: IncomingMessage): Promise<ApiError> {
  const status = response.statusCode ?? 0;
  const text = (
    await readBody(response, MAX_ERROR_BODY_BYTES).catch(() => Buffer.alloc(0))
  ).toString('utf8');
  try {
    const problem = JSON.parse(text) as { detail?: unknown; title?: unknown; code?: unknown };
    const detail = typeof problem.detail === 'string' ? problem.detail : problem.title;
    if (typeof detail === 'string') {
      return new ApiError(
        status,
        typeof problem.code === 'string' ? problem.code : undefined,
        detail,
      );
    }
  } catch {
    // Not problem+json (a proxy's error page, say): the status line is all there is.
  }
  return new ApiError(
    status,
    undefined,
    `the server answered ${status} ${response.statusMessage ?? ''}`.trim(),
  );
}

async function readBody(response: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response) {
    const buffer = chunk as Buffer;
    if (length < limit) chunks.push(buffer);
    length += buffer.length;
  }
  return Buffer.concat(chunks);
}
