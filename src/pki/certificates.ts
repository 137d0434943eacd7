// Issues the X.509 certificates of the job worker's private PKI: a CA, the server's TLS
// certificate, and client certificates whose subject carries the client's name and role.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { toForgeAltNames } from './alt-names.ts';
import { PkiError } from './errors.ts';
import { generateRsaKeyPair } from './key-pair.ts';
import { assertValidClientName } from './names.ts';
import { assertRole, type Role } from './roles.ts';
import { randomSerialNumber } from './serial-number.ts';
import { signCertificate } from './sign-certificate.ts';

export type IssuedCredential = { certPem: string; keyPem: string };

export const CLIENT_ORGANIZATION = 'jobworker';

const CA_KEY_BITS = 3072;
const LEAF_KEY_BITS = 2048;
// Back-dating notBefore tolerates peers whose clocks run a little behind ours.
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_DAYS = 36500;
// X.520 upper bound for a commonName.
const MAX_COMMON_NAME_LENGTH = 64;

type ForgeCertificate = forge.pki.Certificate;
type ForgeExtension = Record<string, unknown> & { name: string };

export type SigningAuthority = {
  cert: ForgeCertificate;
  key: KeyObject;
  keyIdentifier: string;
};

export async function createCertificateAuthority(options: {
  commonName: string;
  days: number;
}): Promise<IssuedCredential> {
  assertValidCommonName(options.commonName);
  assertValidDays(options.days);
  const keys = await generateRsaKeyPair(CA_KEY_BITS);
  const cert = newCertificate(
    keys.publicKey,
    [{ name: 'commonName', value: options.commonName }],
    options.days,
  );
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  await signCertificate(cert, keys.privateKey);
  return toCredential(cert, keys.privateKeyPem);
}

export async function issueServerCertificate(
  ca: IssuedCredential,
  options: { commonName: string; altNames: string[]; days: number },
): Promise<IssuedCredential> {
  assertValidCommonName(options.commonName);
  assertValidDays(options.days);
  const altNames = toForgeAltNames(options.altNames);
  const authority = loadSigningAuthority(ca);
  return issueLeaf(authority, {
    subject: [{ name: 'commonName', value: options.commonName }],
    days: options.days,
    extensions: [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      // clientAuth too: the server presents it to a syslog collector (--syslog).
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
}

export async function issueClientCertificate(
  ca: IssuedCredential,
  options: { name: string; role: Role; days: number },
): Promise<IssuedCredential> {
  // Checked at run time too: names and roles reach here from CLI arguments and API bodies.
  assertValidClientName(options.name);
  assertRole(options.role);
  assertValidDays(options.days);
  const authority = loadSigningAuthority(ca);
  return issueLeaf(authority, {
    subject: [
      { name: 'commonName', value: options.name },
      { name: 'organizationalUnitName', value: options.role },
      { name: 'organizationName', value: CLIENT_ORGANIZATION },
    ],
    days: options.days,
    extensions: [
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
}

async function issueLeaf(
  authority: SigningAuthority,
  spec: { subject: forge.pki.CertificateField[]; days: number; extensions: ForgeExtension[] },
): Promise<IssuedCredential> {
  const keys = await generateRsaKeyPair(LEAF_KEY_BITS);
  const cert = newCertificate(keys.publicKey, spec.subject, spec.days);
  cert.setIssuer(authority.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    ...spec.extensions,
    { name: 'subjectKeyIdentifier' },
    // forge's `keyIdentifier: true` would use the leaf's own key, so pass the CA's explicitly.
    { name: 'authorityKeyIdentifier', keyIdentifier: authority.keyIdentifier },
  ]);
  await signCertificate(cert, authority.key);
  return toCredential(cert, keys.privateKeyPem);
}

function newCertificate(
  publicKey: forge.pki.rsa.PublicKey,
  subject: forge.pki.CertificateField[],
  days: number,
): ForgeCertificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialNumber();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
  cert.setSubject(subject);
  return cert;
}

function toCredential(cert: ForgeCertificate, keyPem: string): IssuedCredential {
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Parses the CA credential and checks it can actually act as this PKI's issuer. */
export function loadSigningAuthority(ca: IssuedCredential): SigningAuthority {
  let x509: X509Certificate;
  let cert: ForgeCertificate;
  let key: KeyObject;
  try {
    x509 = new X509Certificate(ca.certPem);
    cert = forge.pki.certificateFromPem(ca.certPem);
    key = createPrivateKey(ca.keyPem);
  } catch (error) {
    throw new PkiError(
      'PKI_INVALID_CA',
      'invalid CA: expected a PEM RSA certificate and private key',
      {
        cause: error,
      },
    );
  }
  if (!x509.ca) {
    throw new PkiError(
      'PKI_INVALID_CA',
      'invalid CA: expected a certificate with basicConstraints cA:true',
    );
  }
  if (!x509.checkPrivateKey(key)) {
    throw new PkiError(
      'PKI_INVALID_CA',
      'invalid CA: the private key does not match the certificate',
    );
  }
  return { cert, key, keyIdentifier: caKeyIdentifier(cert) };
}

/** The CA's own subjectKeyIdentifier when present, so chains link even for foreign CAs. */
function caKeyIdentifier(cert: ForgeCertificate): string {
  const extension = cert.getExtension('subjectKeyIdentifier') as
    { subjectKeyIdentifier?: string } | undefined;
  if (extension?.subjectKeyIdentifier !== undefined) {
    return forge.util.hexToBytes(extension.subjectKeyIdentifier);
  }
  return cert.generateSubjectKeyIdentifier().getBytes();
}

function assertValidCommonName(commonName: string): void {
  if (
    typeof commonName !== 'string' ||
    commonName.length === 0 ||
    commonName.length > MAX_COMMON_NAME_LENGTH
  ) {
    throw new PkiError(
      'PKI_INVALID_NAME',
      `invalid common name: expected 1-${MAX_COMMON_NAME_LENGTH} characters, received ${JSON.stringify(commonName)}`,
    );
  }
}

function assertValidDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new PkiError(
      'PKI_INVALID_VALIDITY',
      `invalid validity: expected a whole number of days from 1 to ${MAX_DAYS}, received ${JSON.stringify(days)}`,
    );
  }
}
