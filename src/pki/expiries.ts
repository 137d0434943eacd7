// When each credential of the PKI stops working: the CA, the server certificate, each client's
// current certificate, and the CRL (past its nextUpdate OpenSSL refuses every client). What
// `certs list` shows and what /metrics exports for alerts, from one definition.
import { X509Certificate } from 'node:crypto';
import { currentClientCertificates, type Inventory } from './inventory.ts';

export type ExpiryKind = 'ca' | 'server' | 'client' | 'crl';

export interface Expiry {
  readonly kind: ExpiryKind;
  /** The certificate's common name (a client's name); `crl` for the CRL. */
  readonly name: string;
  readonly expiresAt: Date;
}

export interface PkiMaterial {
  readonly caPem: string;
  readonly serverPem: string;
  /** Absent while the PKI has no CRL. */
  readonly crlNextUpdate: Date | undefined;
  readonly inventory: Inventory;
}

export function expiriesOf(material: PkiMaterial): Expiry[] {
  const certificate = (kind: ExpiryKind, pem: string): Expiry => {
    const x509 = new X509Certificate(pem);
    return { kind, name: commonName(x509) ?? kind, expiresAt: new Date(x509.validTo) };
  };
  return [
    certificate('ca', material.caPem),
    certificate('server', material.serverPem),
    ...currentClientCertificates(material.inventory).map((entry): Expiry => ({
      kind: 'client',
      name: entry.name,
      expiresAt: new Date(entry.notAfter),
    })),
    ...(material.crlNextUpdate === undefined
      ? []
      : [{ kind: 'crl' as const, name: 'crl', expiresAt: material.crlNextUpdate }]),
  ];
}

function commonName(x509: X509Certificate): string | undefined {
  const line = x509.subject.split('\n').find((field) => field.startsWith('CN='));
  return line === undefined || line === 'CN=' ? undefined : line.slice('CN='.length);
}
