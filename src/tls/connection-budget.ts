// How many connections one client may hold, decided as soon as its certificate names it (after
// the handshake, before HTTP). Without it one client's thousands of open connections fill the
// server's cap and everyone else fails at connect. Only authenticated connections count here
// (pending handshakes are a budget of their own: handshake-budget.ts), on every port the server
// opens. Three rules:
//   - a client holds at most `perClient` connections;
//   - the server holds at most `total`;
//   - the last `reserve` of `total` goes only to admins and to clients holding fewer than
//     LIGHT_USE connections, so a few busy clients together cannot shut the others out.
// A refused connection is closed (there is no HTTP yet to answer on) and logged with the name.
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ClientCounts } from '../util/client-counts.ts';
import { peerCertificate } from './peer-certificate.ts';

/** Connections a client may still open from the reserve: enough for a CLI and a browser. */
const LIGHT_USE = 8;
/** A refusal is logged once per client in this long, not once per connection of a storm. */
const LOG_EVERY_MS = 10_000;

export interface ConnectionBudgetOptions {
  /** Every server whose connections count: they share one budget. */
  readonly servers: readonly Server[];
  readonly logger: Logger;
  readonly perClient: number;
  /** Authenticated connections the server holds at most (--max-connections). */
  readonly total: number;
  /** Told of each refusal, for metrics. */
  readonly onRefused?: (client: string) => void;
}

export function budgetConnections(options: ConnectionBudgetOptions): void {
  const { logger, perClient, total } = options;
  const reserve = Math.floor(total / 10);
  const open = new ClientCounts();
  const lastLogged = new Map<string, number>();

  const refuse = (socket: TLSSocket, client: string, reason: string): void => {
    socket.destroy();
    options.onRefused?.(client);
    const now = Date.now();
    if (now - (lastLogged.get(client) ?? 0) < LOG_EVERY_MS) return;
    lastLogged.set(client, now);
    logger.warn(
      { client, connections: open.of(client), held: open.total, perClient, total, reason },
      'connection refused: over the client connection budget',
    );
  };

  const admit = (socket: TLSSocket): void => {
    if (socket.destroyed) return;
    const certificate = peerCertificate(socket);
    if (certificate === undefined) return;
    const client = String(certificate.subject.CN);
    const role = String(certificate.subject.OU);
    const mine = open.of(client);
    if (mine >= perClient) return refuse(socket, client, `holds ${mine}, the most one client may`);
    if (open.total >= total) return refuse(socket, client, 'the server holds all it may');
    if (open.total >= total - reserve && role !== 'admin' && mine >= LIGHT_USE)
      return refuse(socket, client, 'the server is nearly full; the rest is kept for others');
    socket.once('close', open.take(client));
  };
  // Prepended before the certificate guard is, so it runs after the guard: only a connection
  // the guard let through is counted.
  for (const server of options.servers) server.prependListener('secureConnection', admit);
}
