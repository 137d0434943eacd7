// Why would the server refuse our client certificate? The server hangs up without saying, so
// jobctl checks what it can see itself: the certificate's validity dates, whether the CA it
// trusts for the server issued it, whether the CRL kept next to that CA lists it, and whether
// it is meant for client authentication at all.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLIENT_AUTH_OID } from '../pki/key-usage.ts';
import type { ConnectionSettings } from './connection.ts';
import { revokedSerials } from './crl-serials.ts';

/** The CRL file of a jobworker PKI, beside its ca.pem (see src/pki/layout.ts). */
const CRL_FILE = 'crl.pem';

/** A reason the certificate would be refused, or undefined when none can be seen from here. */
export function diagnoseClientCertificate(settings: ConnectionSettings): string | undefined {
  const certificate = readCertificate(settings.cert.value);
  if (certificate === undefined) return undefined;
  const now = Date.now();
  if (now > Date.parse(certificate.validTo)) return `it expired on ${certificate.validTo}`;
  if (now < Date.parse(certificate.validFrom)) {
    return `it is not valid before ${certificate.validFrom}`;
  }
  const ca = readCertificate(settings.ca.value);
  if (ca !== undefined && !(certificate.checkIssued(ca) && certificate.verify(ca.publicKey))) {
    return `it is not issued by the server's CA (the CA in ${settings.ca.value})`;
  }
  const crl = join(dirname(settings.ca.value), CRL_FILE);
  if (isRevoked(certificate, crl)) return `it has been revoked (it is listed in ${crl})`;
  if (!(certificate.keyUsage ?? []).includes(CLIENT_AUTH_OID)) {
    return 'it is not a certificate for client authentication (no clientAuth extended key usage)';
  }
  return undefined;
}

function readCertificate(path: string): X509Certificate | undefined {
  try {
    return new X509Certificate(readFileSync(path));
  } catch {
    return undefined;
  }
}

function isRevoked(certificate: X509Certificate, crlPath: string): boolean {
  let pem: string;
  try {
    pem = readFileSync(crlPath, 'utf8');
  } catch {
    return false;
  }
  try {
    return revokedSerials(pem).has(normalizeSerial(certificate.serialNumber));
  } catch {
    return false;
  }
}

function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}
