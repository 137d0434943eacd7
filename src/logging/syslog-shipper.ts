// Sends framed syslog messages to a collector over mutual TLS (RFC 5425), for as long as the
// server runs. The collector being down or slow never holds the server up: messages wait in a
// bounded queue while there is no connection (or the connection is backed up), and what does not
// fit is dropped and counted. Once the collector takes messages again after a loss, the loss is
// reported once. The local files (the server's stdout, the audit log) stay the record of truth.
//
// Written here rather than taken from pino-socket or pino-syslog: neither presents a client
// certificate (pino-socket's TLS takes no key or CA) nor frames by octet count, and a transport
// in pino's worker thread could not report its losses to /metrics; audit records, which are not
// log lines, go through the same queue.
import { isIP } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface SyslogShipperOptions {
  /** `tls://HOST:PORT`. */
  readonly url: URL;
  /** Verifies the collector's certificate; the client certificate is the server's own. */
  readonly tls: Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>;
  /** Bytes that may wait for the collector; beyond it messages are dropped. */
  readonly maxQueuedBytes: number;
  /** Told of messages dropped, for the metrics. */
  readonly onDropped: (messages: number) => void;
  /** Told once the collector takes messages again after some were dropped. */
  readonly onRecovered: (dropped: number) => void;
  /** Told, once per outage, why the collector cannot be reached. */
  readonly onUnreachable: (error: Error) => void;
}

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;
/**
 * A connection counts as established once it has stayed up this long: with TLS 1.3 a collector
 * that refuses our certificate does so only after our side saw the handshake complete.
 */
const STABLE_MS = 5000;
/** A connection backed up this long is taken for dead (a half-open peer) and replaced. */
const STALL_MS = 60_000;
/** At close: how long queued messages may take to leave before they are given up. */
const CLOSE_FLUSH_MS = 2000;

export class SyslogShipper {
  readonly #options: SyslogShipperOptions;
  readonly #queue: Buffer[] = [];
  #queuedBytes = 0;
  #socket: TLSSocket | undefined;
  #connected = false;
  /** The connection has stayed up for STABLE_MS: what it took counts as delivered. */
  #stable = false;
  /** Messages written into a connection that is not yet stable: lost if it closes. */
  #unconfirmed = 0;
  /** The socket took less than it was given: wait for its 'drain'. */
  #backedUp = false;
  #droppedUnreported = 0;
  #reportedUnreachable = false;
  #retryMs = RETRY_FIRST_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;
  #stallTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The report of a loss is being logged: it must reach the collector, full queue or not. */
  #reportingLoss = false;

  constructor(options: SyslogShipperOptions) {
    this.#options = options;
    this.#connect();
  }

  /** Queues one framed message; never blocks, never throws. */
  send(message: Buffer): void {
    if (this.#closed) return;
    const full = this.#queuedBytes + message.length > this.#options.maxQueuedBytes;
    if (full && !this.#reportingLoss) {
      this.#drop(1);
      return;
    }
    this.#queue.push(message);
    this.#queuedBytes += message.length;
    this.#flush();
  }

  /** Gives what is queued a moment to leave, then closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#stableTimer);
    clearTimeout(this.#stallTimer);
    const socket = this.#socket;
    if (socket === undefined) return;
    if (this.#connected && this.#queue.length === 0 && !this.#backedUp) socket.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, CLOSE_FLUSH_MS);
      timer.unref();
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (!this.#connected) socket.destroy();
    });
  }

  #drop(messages: number): void {
    this.#droppedUnreported += messages;
    this.#options.onDropped(messages);
  }

  #connect(): void {
    const { url, tls } = this.#options;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    // An address is checked against the certificate's IP entries; only a name is an SNI name.
    const socket = connect({
      host,
      port: Number(url.port),
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...tls,
      minVersion: 'TLSv1.2',
    });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, STALL_MS / 2);
    socket.once('secureConnect', () => this.#onConnected());
    socket.on('drain', () => {
      this.#backedUp = false;
      clearTimeout(this.#stallTimer);
      this.#flush();
    });
    socket.on('error', (error: Error) => {
      if (!this.#reportedUnreachable && !this.#closed) {
        this.#reportedUnreachable = true;
        this.#options.onUnreachable(error);
      }
    });
    socket.once('close', () => this.#onClosed());
    // A collector only listens: anything it sends is read and dropped, so the socket sees EOF.
    socket.resume();
  }

  #onConnected(): void {
    this.#connected = true;
    this.#stableTimer = setTimeout(() => this.#onStable(), STABLE_MS);
    this.#stableTimer.unref();
    this.#flush();
  }

  #onStable(): void {
    this.#stable = true;
    this.#unconfirmed = 0;
    this.#retryMs = RETRY_FIRST_MS;
    this.#reportedUnreachable = false;
    this.#reportLoss();
  }

  /** Once connected and caught up, what was lost is said, once. */
  #reportLoss(): void {
    if (!this.#stable || this.#droppedUnreported === 0 || this.#queue.length > 0) return;
    const dropped = this.#droppedUnreported;
    this.#droppedUnreported = 0;
    this.#reportingLoss = true;
    try {
      this.#options.onRecovered(dropped);
    } finally {
      this.#reportingLoss = false;
    }
  }

  #onClosed(): void {
    clearTimeout(this.#stableTimer);
    clearTimeout(this.#stallTimer);
    // A connection that closed before it was stable took what it was given nowhere.
    if (!this.#stable && this.#unconfirmed > 0) this.#drop(this.#unconfirmed);
    this.#unconfirmed = 0;
    this.#connected = false;
    this.#stable = false;
    this.#backedUp = false;
    this.#socket = undefined;
    if (this.#closed) return;
    this.#retryTimer = setTimeout(() => this.#connect(), this.#retryMs);
    this.#retryTimer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }

  #flush(): void {
    const socket = this.#socket;
    if (!this.#connected || socket === undefined) return;
    while (this.#queue.length > 0 && !this.#backedUp) {
      const message = this.#queue.shift() as Buffer;
      this.#queuedBytes -= message.length;
      if (!this.#stable) this.#unconfirmed += 1;
      this.#backedUp = !socket.write(message);
    }
    if (this.#backedUp) {
      clearTimeout(this.#stallTimer);
      this.#stallTimer = setTimeout(() => socket.destroy(), STALL_MS);
      this.#stallTimer.unref();
    }
    if (this.#closed && this.#queue.length === 0 && !this.#backedUp) socket.end();
    this.#reportLoss();
  }
}
