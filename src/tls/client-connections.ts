// The open connections of authenticated clients, by certificate serial. A revocation has to reach
// connections that were accepted before it: their next request would otherwise still be served.
import type { TLSSocket } from 'node:tls';
import { normalizeSerial } from '../pki/crl.ts';

export class ClientConnections {
  readonly #serials = new Map<TLSSocket, string>();

  track(socket: TLSSocket, serialNumber: string): void {
    this.#serials.set(socket, normalizeSerial(serialNumber));
    socket.once('close', () => this.#serials.delete(socket));
  }

  /** Destroys every connection whose certificate is revoked; returns how many. */
  closeRevoked(revoked: ReadonlySet<string>): number {
    let closed = 0;
    for (const [socket, serial] of this.#serials) {
      if (!revoked.has(serial)) continue;
      socket.destroy();
      this.#serials.delete(socket);
      closed += 1;
    }
    return closed;
  }

  get size(): number {
    return this.#serials.size;
  }
}
