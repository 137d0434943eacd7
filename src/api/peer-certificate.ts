// The client certificate of a connection, read once per connection: getPeerCertificate() builds
// a fresh object each call, and costs about a third of the server's CPU on small requests when
// called on every request of a keep-alive connection. TLS 1.3 has no renegotiation, so the
// certificate of a connection cannot change.
import type { PeerCertificate, TLSSocket } from 'node:tls';

const certificates = new WeakMap<TLSSocket, PeerCertificate | undefined>();

/** The peer's certificate, or undefined when it sent none. */
export function peerCertificate(socket: TLSSocket): PeerCertificate | undefined {
  if (certificates.has(socket)) return certificates.get(socket);
  const certificate = socket.getPeerCertificate();
  const present = Object.keys(certificate).length > 0 ? certificate : undefined;
  certificates.set(socket, present);
  return present;
}
