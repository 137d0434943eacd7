// Sends framed syslog messages to a collector over mutual TLS (RFC 5425), for as long as the
// server runs. The collector being down or slow never holds the server up: messages wait in a
// bounded queue while there is no connection (or the connection is backed up), and what does not
// fit is dropped and counted. When a connection comes back after a loss, the loss is reported
// once. The local files (the server's stdout, the audit log) stay the record of truth.
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface SyslogShipperOptions {
  /** `tls://HOST:PORT`. */
  readonly url: URL;
  /** Verifies the collector's certificate; the client certificate is the server's own. */
  readonly tls: Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>;
  /** Bytes that may wait for the collector; beyond it messages are dropped. */
  readonly maxQueuedBytes: number;
  /** Told of each message dropped, for the metrics. */
  readonly onDropped: (messages: number) => void;
  /** Told once a connection is back after messages were dropped. */
  readonly onRecovered: (dropped: number) => void;
  /** Told, once per outage, why the collector cannot be reached. */
  readonly onUnreachable: (error: Error) => void;
}

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;
/** At close: how long queued messages may take to leave before they are given up. */
const CLOSE_FLUSH_MS = 2000;

export class SyslogShipper {
  readonly #options: SyslogShipperOptions;
  readonly #queue: Buffer[] = [];
  #queuedBytes = 0;
  #socket: TLSSocket | undefined;
  #connected = false;
  /** The socket took less than it was given: wait for its 'drain'. */
  #backedUp = false;
  #droppedSinceConnected = 0;
  #reportedUnreachable = false;
  #retryMs = RETRY_FIRST_MS;
  #retryTimer: NodeJS.Timeout | undefined;
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
      this.#droppedSinceConnected += 1;
      this.#options.onDropped(1);
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

  #connect(): void {
    const { url, tls } = this.#options;
    const socket = connect({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port),
      servername: url.hostname,
      ...tls,
      minVersion: 'TLSv1.2',
    });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.once('secureConnect', () => this.#onConnected());
    socket.on('drain', () => {
      this.#backedUp = false;
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
    this.#retryMs = RETRY_FIRST_MS;
    this.#reportedUnreachable = false;
    if (this.#droppedSinceConnected > 0) {
      const dropped = this.#droppedSinceConnected;
      this.#droppedSinceConnected = 0;
      this.#reportingLoss = true;
      try {
        this.#options.onRecovered(dropped);
      } finally {
        this.#reportingLoss = false;
      }
    }
    this.#flush();
  }

  #onClosed(): void {
    this.#connected = false;
    this.#backedUp = false;
    this.#socket = undefined;
    if (this.#closed) return;
    // What was handed to the socket but not sent is lost with it; the queue is kept.
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
      this.#backedUp = !socket.write(message);
    }
    if (this.#closed && this.#queue.length === 0 && !this.#backedUp) socket.end();
  }
}
