// The door of the server, after the TLS handshake and before HTTP: a client whose certificate
// did not verify (another CA, expired, revoked, not for client authentication) or that lacks the
// clientAuth extended key usage (OpenSSL accepts a certificate with no EKU for any purpose) is
// disconnected, and reported with who and why (the log and the audit trail summarise the reports
// per source: tls/refusal-summaries.ts): the client only sees its connection closed. A client
// that presented no certificate at all (a browser without one) is reported too, and gets a page
// that says how to load one (tls/certificate-request-page.ts) before its connection is closed. Accepted
// connections are tracked so a later revocation can close them. What fails before the handshake
// ends is the handshake budget's to report (tls/handshake-budget.ts).
import type { Server } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsRefusal } from '../pki/tls-refusal.ts';
import { normalizeSerial } from '../pki/crl.ts';
import { CLIENT_AUTH_OID } from '../pki/key-usage.ts';
import type { ClientConnections } from './client-connections.ts';
import { answerWithCertificateRequest } from './certificate-request-page.ts';
import { peerCertificate } from './peer-certificate.ts';

/** OpenSSL's verification codes (as Node names them), in the operator's words. */
const REASON_OF: Readonly<Record<string, string>> = {
  CERT_REVOKED: 'certificate revoked',
  CERT_HAS_EXPIRED: 'certificate expired',
  CERT_NOT_YET_VALID: 'certificate not yet valid',
  INVALID_PURPOSE: 'certificate not for client authentication (extended key usage)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "certificate not issued by this server's CA",
  UNABLE_TO_GET_ISSUER_CERT: "certificate not issued by this server's CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "certificate not issued by this server's CA",
  SELF_SIGNED_CERT_IN_CHAIN: "certificate not issued by this server's CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  CERT_SIGNATURE_FAILURE: 'certificate signature invalid',
  CRL_HAS_EXPIRED: "the server's CRL has expired: run 'npm run certs -- crl'",
  CRL_NOT_YET_VALID: "the server's CRL is not yet valid (clock skew?)",
  // The server only loads a CRL its CA signed, so a missing CRL means a foreign issuer.
  UNABLE_TO_GET_CRL: "certificate not issued by this server's CA",
  NO_CLIENT_CERTIFICATE: 'no client certificate: sent the page that says how to load one',
};

export function guardClientCertificates(options: {
  server: Server;
  connections: ClientConnections;
  logger: Logger;
  /** The serials revoked by the CRL in force now, which a handshake begun earlier may predate. */
  revokedSerials: () => ReadonlySet<string>;
  /** Told of each refusal, for metrics and the summaries the log and the audit trail keep. */
  onRefused?: (refusal: TlsRefusal) => void;
}): void {
  const { server, connections, logger } = options;
  const report = (refusal: TlsRefusal): void => {
    try {
      options.onRefused?.(refusal);
    } catch (error) {
      logger.error({ err: error }, 'could not report a TLS refusal');
    }
  };
  const refuse = (socket: TLSSocket, certificate: PeerCertificate, code: string): void => {
    // Read before the socket is destroyed: a destroyed socket no longer knows its peer.
    const refusal = refusalOf(socket, certificate, code);
    socket.destroy();
    report(refusal);
  };
  // The guard goes first and decides who else hears of a connection: the listeners already
  // there (the handshake budget's, the connection budget's, HTTP's own) are taken over and told
  // of every connection but one without a certificate. That one gets the page that says how to
  // get one, and nothing else; the handshake budget, never told its handshake ended, counts it
  // until it closes.
  const others = server.listeners('secureConnection') as ((
    this: Server,
    socket: TLSSocket,
  ) => void)[];
  server.removeAllListeners('secureConnection');
  server.on('secureConnection', (socket: TLSSocket) => {
    const certificate = peerCertificate(socket);
    if (certificate === undefined) {
      report(refusalOf(socket, undefined, 'NO_CLIENT_CERTIFICATE'));
      return answerWithCertificateRequest(socket);
    }
    admit(socket, certificate);
    // A socket refused above is destroyed: the listeners after see that, as they did before.
    for (const listener of others) listener.call(server, socket);
  });

  /** No HTTP handler ever sees a socket refused here. */
  const admit = (socket: TLSSocket, certificate: PeerCertificate): void => {
    if (!socket.authorized) return refuse(socket, certificate, verificationCode(socket));
    if (options.revokedSerials().has(normalizeSerial(certificate.serialNumber))) {
      return refuse(socket, certificate, 'CERT_REVOKED');
    }
    if (!(certificate.ext_key_usage ?? []).includes(CLIENT_AUTH_OID)) {
      return refuse(socket, certificate, 'INVALID_PURPOSE');
    }
    connections.track(socket, certificate.serialNumber);
  };
}

function refusalOf(
  socket: TLSSocket,
  certificate: PeerCertificate | undefined,
  code: string,
): TlsRefusal {
  return {
    code,
    reason: REASON_OF[code] ?? code,
    certificate,
    remoteAddress: socket.remoteAddress,
    stage: 'certificate',
  };
}

/** Node types authorizationError as an Error, but hands over OpenSSL's code as a string. */
function verificationCode(socket: TLSSocket): string {
  const error: unknown = socket.authorizationError;
  if (typeof error === 'string') return error;
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return 'UNVERIFIED';
}
