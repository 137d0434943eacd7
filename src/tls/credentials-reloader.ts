// Keeps the running server's TLS material current: on a change to the CA, the server certificate
// or key, or the CRL (or on SIGHUP), it loads and checks the new set, swaps it in for new
// handshakes, invalidates session tickets so no one resumes a session its certificate no longer
// allows, closes the open connections of revoked clients, and tells whoever ends what revoked
// certificates started. Healthy connections are untouched.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:https';
import type { Logger } from 'pino';
import { watchFiles, type FileWatch } from '../util/watch-files.ts';
import type { ClientConnections } from './client-connections.ts';
import {
  loadTlsCredentials,
  weakeningOf,
  type TlsCredentials,
  type TlsFiles,
} from './credentials.ts';
import { secureContextOptions } from './server-options.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long before the CRL or the server certificate expires the log starts warning. */
const EXPIRY_WARNING_MS = 7 * DAY_MS;
const TICKET_KEYS_BYTES = 48;

export class CredentialsReloader {
  readonly #server: Server;
  readonly #files: TlsFiles;
  readonly #connections: ClientConnections;
  readonly #logger: Logger;
  readonly #onRevoked: ((revokedSerials: ReadonlySet<string>) => void) | undefined;
  #current: TlsCredentials;
  #running: Promise<void> | undefined;
  #again = false;
  #watch: FileWatch | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(options: {
    server: Server;
    files: TlsFiles;
    connections: ClientConnections;
    logger: Logger;
    initial: TlsCredentials;
    /**
     * Told of the serials the CRL in force revokes whenever a reload revokes more, once the new
     * set is in force: the jobs those certificates started end too.
     */
    onRevoked?: (revokedSerials: ReadonlySet<string>) => void;
  }) {
    this.#server = options.server;
    this.#files = options.files;
    this.#connections = options.connections;
    this.#logger = options.logger;
    this.#current = options.initial;
    this.#onRevoked = options.onRevoked;
  }

  get current(): TlsCredentials {
    return this.#current;
  }

  start(): void {
    const { caCert, serverCert, serverKey, crl } = this.#files;
    this.#watch = watchFiles(
      [caCert, serverCert, serverKey, crl],
      (changed) => void this.reload(`changed: ${changed.join(', ')}`),
      (error) => this.#logger.error({ err: error }, 'watching the TLS files failed; use SIGHUP'),
    );
    this.#checkExpiry();
  }

  /** Reloads now, or once more after the reload in progress, never two at a time. */
  reload(trigger: string): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#reloadUntilSettled(trigger).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  close(): void {
    this.#watch?.close();
    clearTimeout(this.#expiryTimer);
  }

  async #reloadUntilSettled(trigger: string): Promise<void> {
    do {
      this.#again = false;
      await this.#reloadOnce(trigger);
    } while (this.#again);
  }

  async #reloadOnce(trigger: string): Promise<void> {
    let next: TlsCredentials;
    try {
      next = await loadTlsCredentials(this.#files);
    } catch (error) {
      this.#logger.error(
        { trigger, reason: error instanceof Error ? error.message : String(error) },
        'TLS credentials not reloaded; still serving with the previous ones',
      );
      return;
    }
    const weakening = weakeningOf(this.#current, next);
    if (weakening !== undefined) {
      this.#logger.error(
        { trigger, reason: weakening },
        'TLS credentials not reloaded; still serving with the previous ones',
      );
      return;
    }
    // A resumed session skips certificate checks: new ticket keys make every client present its
    // certificate again, against the new CA and CRL. Other changes keep sessions resumable (a
    // new secure context would otherwise come with new keys of its own).
    const moreRevoked = [...next.revokedSerials].some(
      (serial) => !this.#current.revokedSerials.has(serial),
    );
    const trustNarrowed = next.ca !== this.#current.ca || moreRevoked;
    const ticketKeys = trustNarrowed
      ? randomBytes(TICKET_KEYS_BYTES)
      : this.#server.getTicketKeys();
    this.#server.setSecureContext(secureContextOptions(next));
    this.#server.setTicketKeys(ticketKeys);
    const closed = this.#connections.closeRevoked(next.revokedSerials);
    this.#current = next;
    if (moreRevoked) this.#onRevoked?.(next.revokedSerials);
    this.#logger.info(
      {
        trigger,
        revoked: next.revokedSerials.size,
        closedConnections: closed,
        sessionTicketsInvalidated: trustNarrowed,
        crlNextUpdate: next.crlNextUpdate?.toISOString(),
        serverCertificateExpires: next.serverNotAfter.toISOString(),
      },
      'TLS credentials reloaded',
    );
    this.#checkExpiry();
  }

  /** Warns before expiry and errs after it, then checks again a day later (or at expiry). */
  #checkExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const now = Date.now();
    const { crlNextUpdate, serverNotAfter } = this.#current;
    if (crlNextUpdate === undefined) {
      this.#logger.warn(
        { crl: this.#files.crl },
        'no CRL: revoked certificates cannot be refused; any certs command publishes one',
      );
    } else {
      this.#warnOfExpiry('CRL', crlNextUpdate, now, 'every client is refused', 'crl');
    }
    this.#warnOfExpiry(
      'server certificate',
      serverNotAfter,
      now,
      'clients refuse the server',
      'server',
    );
    const expiries = [crlNextUpdate, serverNotAfter]
      .map((date) => (date === undefined ? Infinity : date.getTime() - now))
      .filter((remaining) => remaining > 0);
    // Wake up when a warning starts or an expiry arrives, and at least daily to repeat them.
    const wakeUps = expiries.map((r) => (r > EXPIRY_WARNING_MS ? r - EXPIRY_WARNING_MS : r));
    const nextCheck = Math.min(DAY_MS, ...wakeUps);
    this.#expiryTimer = setTimeout(() => this.#checkExpiry(), nextCheck).unref();
  }

  #warnOfExpiry(
    what: string,
    expires: Date,
    now: number,
    consequence: string,
    certsCommand: string,
  ): void {
    const remaining = expires.getTime() - now;
    const fields = { expires: expires.toISOString(), fix: `npm run certs -- ${certsCommand}` };
    if (remaining <= 0) {
      this.#logger.error(fields, `the ${what} has EXPIRED: ${consequence} until it is renewed`);
    } else if (remaining < EXPIRY_WARNING_MS) {
      this.#logger.warn(
        { ...fields, hoursLeft: Math.floor(remaining / 3_600_000) },
        `the ${what} expires soon: then ${consequence}`,
      );
    }
  }
}
