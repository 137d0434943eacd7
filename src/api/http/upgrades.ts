// WebSocket upgrades go through the same Koa app as any request: identity, roles, the cross-site
// rule, rate limits, the audit trail and problem+json refusals all apply before a connection
// switches protocols. Node hands an upgrade to its 'upgrade' listener with no response object;
// one is made here, so a refusal is an ordinary answer, and the route that accepts takes the
// connection (`takeUpgrade`) for its WebSocket.
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

interface PendingUpgrade {
  readonly socket: Socket;
  readonly head: Buffer;
}

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();

/**
 * Routes upgrades through `handle`. Node's closeAllConnections no longer sees an upgraded
 * connection, so the returned function is how shutdown closes them.
 */
export function routeUpgrades(
  server: Server,
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): () => void {
  const open = new Set<Socket>();
  server.on('upgrade', (request: IncomingMessage, connection: Duplex, head: Buffer) => {
    const socket = connection as Socket;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // The handshake's own timer (connection-limits.ts) ends here, as a request's does.
    socket.setTimeout(0);
    pending.set(request, { socket, head });
    const response = new ServerResponse(request);
    // The response stays the connection's until it closes, so the request's log line and
    // audit record are written when the session ends, as for a followed output.
    response.assignSocket(socket);
    response.shouldKeepAlive = false;
    // A refusal is the connection's last answer.
    response.once('finish', () => socket.end());
    socket.once('error', () => socket.destroy());
    handle(request, response);
  });
  return () => {
    for (const socket of open) socket.destroy();
  };
}

/** The connection of an upgrade request, once: undefined for a plain request. */
export function takeUpgrade(request: IncomingMessage): PendingUpgrade | undefined {
  const upgrade = pending.get(request);
  pending.delete(request);
  return upgrade;
}
