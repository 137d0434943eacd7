// Connections that have not finished their TLS handshake are a budget of their own, apart from
// the authenticated clients' (connection-budget.ts). Node's maxConnections counted them with
// everyone else: 4,500 connections from a peer without a certificate that never sent a
// ClientHello locked every client out, admins included. Here:
//   - a connection stays a bare TCP socket until it sends its first byte, and only then is it
//     handed to TLS (which reads what was sent): one that says nothing costs no TLS state;
//   - at most `total` handshakes are pending, `perAddress` of them from one address; past either,
//     the oldest pending connection that has sent nothing is dropped. One that has sent its
//     ClientHello is never dropped to make room; when every place is taken by such, the newcomer
//     is refused instead;
//   - every handshake ends within `deadlineMs` of the connection, or the connection is closed.
// Every connection dropped, refused, timed out or failed before its handshake ended is reported
// (onRefused) with its address and a code; the certificate guard reports what comes after.
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsRefusal } from '../pki/tls-refusal.ts';

/** How often the deadline is checked: a handshake may run this much past it. */
const CHECK_EVERY_MS = 1000;

/** The server's own codes, and Node's that it reports, in the operator's words. */
const REASON_OF: Readonly<Record<string, string>> = {
  HANDSHAKE_EVICTED: 'sent nothing; closed to make room for a newer connection',
  HANDSHAKES_FULL: 'every handshake place is taken by a client that has sent its ClientHello',
  NO_CLIENT_HELLO: 'closed by the client before it sent anything',
  ERR_TLS_HANDSHAKE_TIMEOUT: 'the handshake did not finish in time',
};

export interface HandshakeBudgetOptions {
  /** Every server whose connections count: they share one budget. */
  readonly servers: readonly Server[];
  readonly logger: Logger;
  readonly total: number;
  readonly perAddress: number;
  /** From the connection to the end of its handshake. */
  readonly deadlineMs: number;
  /** Told of each connection that ended before its handshake did. */
  readonly onRefused: (refusal: TlsRefusal) => void;
}

interface PendingHandshake {
  readonly socket: Socket;
  readonly address: string;
  /** Both ends, once it spoke: how its TLS socket is found again when the handshake ends. */
  endpoints: string | undefined;
  readonly since: number;
  /** The trim it arrived before: it has been read from once the next one runs. */
  readonly turn: number;
  /** It has sent a byte, and is TLS's now. */
  spoke: boolean;
  /** Why the server closed it, when it did. */
  verdict: string | undefined;
}

/** Starts counting; `close` stops the deadline's timer once the servers have stopped. */
export function budgetHandshakes(options: HandshakeBudgetOptions): { close(): void } {
  const budget = new HandshakeBudget(options);
  for (const server of options.servers) budget.watch(server);
  return { close: () => budget.close() };
}

class HandshakeBudget {
  readonly #options: HandshakeBudgetOptions;
  /** In the order they arrived: the first one silent is the oldest. */
  readonly #pending = new Map<Socket, PendingHandshake>();
  readonly #byAddress = new Map<string, Set<PendingHandshake>>();
  readonly #byEndpoints = new Map<string, PendingHandshake>();
  /** Kept past the pending list: TLS reports a failure after the socket under it has closed. */
  readonly #ofSocket = new WeakMap<Socket, PendingHandshake>();
  #turn = 0;
  #trimScheduled = false;
  readonly #deadlines: NodeJS.Timeout;

  constructor(options: HandshakeBudgetOptions) {
    this.#options = options;
    this.#deadlines = setInterval(() => this.#closeLate(), CHECK_EVERY_MS);
    this.#deadlines.unref();
  }

  close(): void {
    clearInterval(this.#deadlines);
  }

  watch(server: Server): void {
    // tls.Server starts TLS on a connection from its 'connection' listener; emitting 'connection'
    // is Node's documented way to hand it one. That listener is taken over, and called once the
    // connection has spoken.
    const startTls = server.listeners('connection') as ((this: Server, socket: Socket) => void)[];
    if (startTls.length === 0) throw new Error('the server starts no TLS on its connections');
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) =>
      this.#admit(socket, () => {
        for (const listener of startTls) listener.call(server, socket);
      }),
    );
    // First, so the socket still knows its peer when the failure is a timeout.
    server.prependListener('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) =>
      this.#failed(error, socket),
    );
    server.prependListener('secureConnection', (socket: TLSSocket) => this.#secured(socket));
  }

  #admit(socket: Socket, startTls: () => void): void {
    const address = socket.remoteAddress ?? 'unknown';
    const pending: PendingHandshake = {
      socket,
      address,
      endpoints: undefined,
      since: Date.now(),
      turn: this.#turn,
      spoke: false,
      verdict: undefined,
    };
    this.#track(pending);
    // Until TLS has it, nothing else listens: a reset must not be an uncaught error.
    socket.on('error', () => {});
    const onReadable = (): void => {
      // The end of the stream with nothing read: the client left having said nothing.
      if (socket.readableLength === 0) return;
      socket.off('readable', onReadable);
      this.#spoke(pending);
      startTls();
    };
    socket.on('readable', onReadable);
    socket.once('close', () => this.#closed(pending));
    const fromAddress = this.#byAddress.get(address)?.size ?? 0;
    if (this.#pending.size > this.#options.total || fromAddress > this.#options.perAddress)
      this.#scheduleTrim();
  }

  /**
   * Trims once per turn of the event loop, after its reads: a connection accepted in this turn
   * has not been read from yet, so its silence says nothing; it is judged in the next turn. A
   * batch of accepts may pass the cap by its size (the listen backlog) for that one turn.
   */
  #scheduleTrim(): void {
    if (this.#trimScheduled) return;
    this.#trimScheduled = true;
    setImmediate(() => this.#trim());
  }

  #trim(): void {
    this.#trimScheduled = false;
    const arrivedSince = this.#turn;
    this.#turn += 1;
    let judgeAgain = false;
    for (const fromAddress of [...this.#byAddress.values()]) {
      if (fromAddress.size <= this.#options.perAddress) continue;
      judgeAgain = this.#shed(fromAddress, this.#options.perAddress, arrivedSince) || judgeAgain;
    }
    if (this.#pending.size > this.#options.total) {
      const all = this.#pending;
      judgeAgain = this.#shed(all.values(), this.#options.total, arrivedSince) || judgeAgain;
    }
    if (judgeAgain) this.#scheduleTrim();
  }

  /**
   * Brings `entries` (oldest first) down to `cap`: the oldest that have had a chance to speak
   * and have not go first; newcomers only when the rest have all spoken. Returns whether the cap
   * is still passed by connections not judged yet.
   */
  #shed(entries: Iterable<PendingHandshake>, cap: number, arrivedSince: number): boolean {
    const silent: PendingHandshake[] = [];
    const unjudged: PendingHandshake[] = [];
    let spoken = 0;
    for (const entry of entries) {
      if (entry.spoke) spoken += 1;
      else if (entry.turn >= arrivedSince) unjudged.push(entry);
      else silent.push(entry);
    }
    let excess = spoken + unjudged.length + silent.length - cap;
    for (const entry of silent) {
      if (excess <= 0) break;
      this.#drop(entry, 'HANDSHAKE_EVICTED');
      excess -= 1;
    }
    if (excess > 0 && spoken >= cap) {
      for (const entry of unjudged.reverse()) {
        if (excess <= 0) break;
        this.#drop(entry, 'HANDSHAKES_FULL');
        excess -= 1;
      }
      return false;
    }
    return excess > 0 && unjudged.length > 0;
  }

  /** Closes every connection whose handshake has run past the deadline. */
  #closeLate(): void {
    const now = Date.now();
    for (const entry of this.#pending.values()) {
      if (now - entry.since < this.#options.deadlineMs) break;
      this.#drop(entry, 'ERR_TLS_HANDSHAKE_TIMEOUT');
    }
  }

  #drop(entry: PendingHandshake, verdict: string): void {
    entry.verdict = verdict;
    this.#untrack(entry);
    entry.socket.destroy();
  }

  /** A connection that never spoke is reported here; TLS reports the others' failures. */
  #closed(entry: PendingHandshake): void {
    this.#untrack(entry);
    if (!entry.spoke) this.#report(entry.verdict ?? 'NO_CLIENT_HELLO', undefined, entry.address);
  }

  #failed(error: NodeJS.ErrnoException, socket: TLSSocket): void {
    const entry = this.#entryOf(socket);
    // Closed by the budget (its deadline): the TLS socket only saw its connection reset.
    const code = entry?.verdict ?? error.code ?? 'HANDSHAKE_FAILED';
    this.#report(code, error.message, socket.remoteAddress ?? entry?.address);
  }

  #secured(socket: TLSSocket): void {
    const entry = this.#entryOf(socket);
    if (entry !== undefined) this.#untrack(entry);
  }

  #entryOf(socket: TLSSocket): PendingHandshake | undefined {
    const live =
      socket.remoteAddress === undefined ? undefined : this.#byEndpoints.get(endpointsOf(socket));
    const tcp = tcpSocketOf(socket);
    return live ?? (tcp === undefined ? undefined : this.#ofSocket.get(tcp));
  }

  #report(code: string, message: string | undefined, remoteAddress: string | undefined): void {
    try {
      this.#options.onRefused({
        code,
        reason: REASON_OF[code] ?? message ?? code,
        certificate: undefined,
        remoteAddress,
        stage: 'handshake',
      });
    } catch (error) {
      this.#options.logger.error({ err: error }, 'could not report a TLS refusal');
    }
  }

  #track(entry: PendingHandshake): void {
    this.#pending.set(entry.socket, entry);
    const fromAddress = this.#byAddress.get(entry.address);
    if (fromAddress === undefined) this.#byAddress.set(entry.address, new Set([entry]));
    else fromAddress.add(entry);
  }

  /** Only a connection that spoke is found again from TLS: the silent ones cost less so. */
  #spoke(entry: PendingHandshake): void {
    entry.spoke = true;
    entry.endpoints = endpointsOf(entry.socket);
    this.#byEndpoints.set(entry.endpoints, entry);
    this.#ofSocket.set(entry.socket, entry);
  }

  #untrack(entry: PendingHandshake): void {
    if (!this.#pending.delete(entry.socket)) return;
    if (entry.endpoints !== undefined) this.#byEndpoints.delete(entry.endpoints);
    const fromAddress = this.#byAddress.get(entry.address);
    fromAddress?.delete(entry);
    if (fromAddress?.size === 0) this.#byAddress.delete(entry.address);
  }
}

function endpointsOf(socket: Socket): string {
  return `${socket.localAddress}:${socket.localPort} ${socket.remoteAddress}:${socket.remotePort}`;
}

/**
 * The TCP socket under a server's TLS socket. Node keeps it as `_parent` (lib/internal/tls/wrap.js)
 * and offers no public way to it; once a failed handshake has closed the connection, the TLS
 * socket no longer knows its peer, and this is how the failure is still told with its address.
 */
function tcpSocketOf(socket: TLSSocket): Socket | undefined {
  return (socket as TLSSocket & { _parent?: Socket })._parent;
}
