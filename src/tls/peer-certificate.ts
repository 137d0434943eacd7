// The client certificate of a connection, read once: by the guard at the door, then from here
// by every request. getPeerCertificate() builds a fresh object each call, and cost about a third
// of the server's CPU on small requests when called on every request of a keep-alive
// connection. TLS 1.3 has no renegotiation, so a connection's certificate cannot change.
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
