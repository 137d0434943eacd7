// Bounds on what a connection may cost before it is a request: slow or silent clients
// (slowloris) are cut off on time, and the number of connections is capped. Once a request is
// being served, only its own timeouts apply, so a follower of a quiet job is never cut off.
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';

export const CONNECTION_LIMITS = {
  /** From connection to a complete TLS handshake. */
  handshakeMs: 10_000,
  /** From connection (or the end of a response) to the complete headers of a request. */
  headersMs: 10_000,
  /** From connection to the complete request, body included. */
  requestMs: 30_000,
  /** Node checks the two above this often; its default (30 s) would triple them. */
  checkEveryMs: 1000,
  keepAliveMs: 5000,
} as const;

/** Options for `https.createServer`; the rest is applied to the server by `limitConnections`. */
export const connectionServerOptions = {
  handshakeTimeout: CONNECTION_LIMITS.handshakeMs,
  connectionsCheckingInterval: CONNECTION_LIMITS.checkEveryMs,
} as const;

export function limitConnections(server: Server, maxConnections: number): void {
  server.headersTimeout = CONNECTION_LIMITS.headersMs;
  server.requestTimeout = CONNECTION_LIMITS.requestMs;
  server.keepAliveTimeout = CONNECTION_LIMITS.keepAliveMs;
  server.maxConnections = maxConnections;
  // A client that completes the handshake and then sends nothing never starts the header timer.
  server.on('secureConnection', (socket: TLSSocket) => {
    socket.setTimeout(CONNECTION_LIMITS.headersMs, () => socket.destroy());
  });
  server.on('request', (request: { socket: TLSSocket }) => request.socket.setTimeout(0));
}
