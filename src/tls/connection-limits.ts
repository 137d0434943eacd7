// Bounds on what a connection may cost before it is a request: slow or silent clients
// (slowloris) are cut off on time, and the number of connections is capped. Once a request is
// being served, only its own timeouts apply, so a follower of a quiet job is never cut off.
// A request body must arrive within `requestMs`, except on routes that stream input for as long
// as a job reads it (`allowSlowBody`): Node's own requestTimeout cannot spare one route, so the
// deadline is kept here, per request.
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';

export const CONNECTION_LIMITS = {
  /** From connection to a complete TLS handshake. */
  handshakeMs: 10_000,
  /** From connection (or the end of a response) to the complete headers of a request. */
  headersMs: 10_000,
  /** From the complete headers to the complete body. */
  requestMs: 30_000,
  /** Node checks the two above this often; its default (30 s) would triple them. */
  checkEveryMs: 1000,
  keepAliveMs: 5000,
} as const;

/** Options for `https.createServer`; the rest is applied to the server by `limitConnections`. */
export const connectionServerOptions = {
  handshakeTimeout: CONNECTION_LIMITS.handshakeMs,
  connectionsCheckingInterval: CONNECTION_LIMITS.checkEveryMs,
  // Only a WebSocket is an upgrade (api/upgrades.ts); any other `Connection: Upgrade` request
  // is an ordinary request, body and all.
  shouldUpgradeCallback: (request: IncomingMessage) =>
    request.headers.upgrade?.toLowerCase() === 'websocket',
} as const;

export function limitConnections(server: Server, maxConnections: number): void {
  server.headersTimeout = CONNECTION_LIMITS.headersMs;
  server.requestTimeout = 0;
  server.keepAliveTimeout = CONNECTION_LIMITS.keepAliveMs;
  server.maxConnections = maxConnections;
  // A client that completes the handshake and then sends nothing never starts the header timer.
  server.on('secureConnection', (socket: TLSSocket) => {
    socket.setTimeout(CONNECTION_LIMITS.headersMs, () => socket.destroy());
  });
  // First, before the app's own listener, which may reach a route (and allowSlowBody) at once.
  server.prependListener('request', (request: IncomingMessage & { socket: TLSSocket }) => {
    request.socket.setTimeout(0);
    limitBodyTime(request);
  });
}

const bodyDeadlines = new WeakMap<IncomingMessage, NodeJS.Timeout>();

/** A body still arriving `requestMs` after its headers costs its client the connection. */
function limitBodyTime(request: IncomingMessage): void {
  if (request.complete) return;
  const deadline = setTimeout(() => {
    if (!request.complete) request.socket.destroy();
  }, CONNECTION_LIMITS.requestMs);
  deadline.unref();
  bodyDeadlines.set(request, deadline);
  const clear = (): void => clearTimeout(deadline);
  request.once('end', clear);
  request.once('close', clear);
}

/** Lifts the body deadline of one request: its body is a stream as long as its client wants. */
export function allowSlowBody(request: IncomingMessage): void {
  clearTimeout(bodyDeadlines.get(request));
  bodyDeadlines.delete(request);
}
