// A refused TLS client, as the door reports it and the audit trail records it: one refusal, and
// a summary of the refusals from one source over a minute (a storm of them is one record, not
// thousands). A client at the door is its certificate, so this lives with the certificates,
// below both tls/ (which refuses) and audit/ (which records): neither imports the other.
import type { PeerCertificate } from 'node:tls';

/** One connection refused, before its handshake ended or right after it. */
export interface TlsRefusal {
  /** OpenSSL's or Node's code (`CERT_REVOKED`, `ERR_TLS_HANDSHAKE_TIMEOUT`...), or the server's. */
  readonly code: string;
  readonly reason: string;
  /** The certificate it presented, when the handshake got that far. */
  readonly certificate: PeerCertificate | undefined;
  readonly remoteAddress: string | undefined;
  /** Refused during the handshake, or by the certificate checks right after it. */
  readonly stage: 'handshake' | 'certificate';
}

/** The refusals of one source (an address, or a certificate) since its previous summary. */
export interface TlsRefusalSummary {
  /** The first refusal counted here. */
  readonly first: TlsRefusal;
  /** How many refusals; 1 for the first of a source, written at once. */
  readonly count: number;
  /** How many of each code. */
  readonly codes: Readonly<Record<string, number>>;
  /** When the first refusal counted here happened. */
  readonly since: Date;
  /** Undefined unless the summary is of sources past the number that are told apart. */
  readonly otherSources?: true;
}
