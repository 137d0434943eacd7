// Bounds on what a connection may cost before it is a request: slow or silent clients
// (slowloris) are cut off on time, and Node's count of connections is kept within the file
// descriptors the process may open. Who is served is decided by the budgets: pending handshakes
// (handshake-budget.ts) and authenticated connections (connection-budget.ts). Once a request is
// being served, only its own timeouts apply, so a follower of a quiet job is never cut off.
// A request body must arrive within `requestMs`, except on routes that stream input for as long
// as a job reads it (`allowSlowBody`): Node's own requestTimeout cannot spare one route, so the
// deadline is kept here, per request.
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

export const CONNECTION_LIMITS = {
  /**
   * From connection to a complete TLS handshake. A TLS 1.3 handshake with a client certificate
   * is two round trips after the TCP one: well under a second across the world, 5 ms on a LAN.
   * Five seconds leaves a slow link and a loaded client ten times that, and halves what a peer
   * that starts handshakes and stalls them holds each place for (it was 10 s).
   */
  handshakeMs: 5000,
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
  // Only a WebSocket is an upgrade (api/http/upgrades.ts); any other `Connection: Upgrade` request
  // is an ordinary request, body and all.
  shouldUpgradeCallback: (request: IncomingMessage) =>
    request.headers.upgrade?.toLowerCase() === 'websocket',
} as const;

/** File descriptors left for all but client sockets: jobs' pipes and output, the store, logs. */
const DESCRIPTORS_KEPT = { share: 0.25, atLeast: 1024 } as const;

export function limitConnections(
  server: Server,
  options: { logger: Logger; /** Connections the budgets may admit together. */ budgeted: number },
): void {
  server.headersTimeout = CONNECTION_LIMITS.headersMs;
  server.requestTimeout = 0;
  server.keepAliveTimeout = CONNECTION_LIMITS.keepAliveMs;
  capBySockets(server, options.logger, options.budgeted);
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

/**
 * Node's maxConnections counts every TCP connection before any handshake, so it must never be
 * what turns clients away (the budgets do that, and know who is asking): it is set to what the
 * open-file limit leaves for sockets, which only stops the process running out of descriptors.
 */
function capBySockets(server: Server, logger: Logger, budgeted: number): void {
  const openFiles = openFileLimit();
  if (openFiles === undefined) return;
  const sockets =
    openFiles - Math.max(DESCRIPTORS_KEPT.atLeast, openFiles * DESCRIPTORS_KEPT.share);
  server.maxConnections = Math.max(1, Math.floor(sockets));
  if (server.maxConnections < budgeted) {
    logger.warn(
      { openFiles, sockets: server.maxConnections, budgeted },
      'the open-file limit leaves fewer sockets than the connection budgets allow: raise it (LimitNOFILE)',
    );
  }
}

/** The soft limit on open files of this process; undefined where /proc does not say. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((candidate) => candidate.startsWith('Max open files'));
    const soft = Number(line?.split(/\s+/)[3]);
    return Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
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
