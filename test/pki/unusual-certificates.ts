// Client certificates the production issuer never makes (expired, without the clientAuth usage,
// or with a chosen serial number), built with forge so tests can show how TLS peers treat them.

import forge from 'node-forge';
import {
  CLIENT_ORGANIZATION,
  loadSigningAuthority,
  type IssuedCredential,
} from '../../src/pki/certificates.ts';
import { generateRsaKeyPair } from '../../src/pki/key-pair.ts';
import { randomSerialNumber } from '../../src/pki/serial-number.ts';
import { signCertificate } from '../../src/pki/sign-certificate.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export type UnusualClientOptions = {
  name: string;
  /** 'none' leaves the extKeyUsage extension out altogether. */
  extKeyUsage: 'clientAuth' | 'serverAuth' | 'none';
  notBefore?: Date;
  notAfter?: Date;
  /** forge's hex form; random (as in production) when left out. */
  serialNumber?: string;
};

export async function issueUnusualClientCertificate(
  ca: IssuedCredential,
  options: UnusualClientOptions,
): Promise<IssuedCredential> {
  const authority = loadSigningAuthority(ca);
  const keys = await generateRsaKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = options.serialNumber ?? randomSerialNumber();
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + DAY_MS);
  cert.setSubject([
    { name: 'commonName', value: options.name },
    { name: 'organizationalUnitName', value: 'user' },
    { name: 'organizationName', value: CLIENT_ORGANIZATION },
  ]);
  cert.setIssuer(authority.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    ...extKeyUsage(options.extKeyUsage),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authority.keyIdentifier },
  ]);
  await signCertificate(cert, authority.key);
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
}

function extKeyUsage(usage: UnusualClientOptions['extKeyUsage']): object[] {
  if (usage === 'none') return [];
  return [{ name: 'extKeyUsage', [usage]: true }];
}
