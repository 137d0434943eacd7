// Bundles a client's key, certificate and CA certificate into one password-protected PKCS#12
// file, the form browsers, curl, Node (`pfx`) and OS key stores import in a single step.

import { X509Certificate, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { IssuedCredential } from './certificates.ts';
import { PkiError } from './errors.ts';

// 18 random bytes are 144 bits, 24 characters of base64url.
const PASSWORD_BYTES = 18;
// Printable ASCII: forge feeds the password to PBKDF2 as a byte string, while OpenSSL uses its
// UTF-8 bytes, so any other character would give a file OpenSSL cannot open.
const PASSWORD_PATTERN = /^[\x20-\x7e]{8,128}$/;
const MAX_FRIENDLY_NAME_LENGTH = 64;

type ForgeToPkcs12Options = NonNullable<Parameters<typeof forge.pkcs12.toPkcs12Asn1>[3]> & {
  // Passed through to forge's encryptPrivateKeyInfo, but missing from @types/node-forge.
  prfAlgorithm: 'sha256';
};

/**
 * The key is encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), what OpenSSL 3 itself
 * writes by default; RC2, the old default, needs OpenSSL 3's `-legacy`. The certificates are
 * stored unencrypted, as they are public. forge always MACs with SHA-1, which OpenSSL 3 accepts.
 *
 * Cost: forge derives the PBKDF2 key and the MAC key (2,048 iterations each) in JavaScript,
 * blocking the event loop: on a 2-vCPU VM the first call in a process took 100-130 ms, later
 * ones 20-45 ms. That suits a CLI, not a request handler. More iterations would buy nothing:
 * generateP12Password's passwords carry 144 random bits, beyond any guessing.
 */
export function toPkcs12(
  credential: IssuedCredential,
  caCertPem: string,
  password: string,
  friendlyName: string,
): Buffer {
  assertValidPassword(password);
  assertValidFriendlyName(friendlyName);
  assertChainIsComplete(credential, caCertPem);
  const options: ForgeToPkcs12Options = {
    algorithm: 'aes256',
    prfAlgorithm: 'sha256',
    friendlyName,
    generateLocalKeyId: true,
  };
  const pfx = forge.pkcs12.toPkcs12Asn1(
    readForgeKey(credential.keyPem),
    // The leaf comes first: forge gives it the key's localKeyId and friendlyName.
    [forge.pki.certificateFromPem(credential.certPem), forge.pki.certificateFromPem(caCertPem)],
    password,
    options,
  );
  return Buffer.from(forge.asn1.toDer(pfx).getBytes(), 'binary');
}

/** A password to hand to the client together with its .p12 file. */
export function generateP12Password(): string {
  return randomBytes(PASSWORD_BYTES).toString('base64url');
}

/** A bundle whose parts do not fit together would only fail later, in the client's TLS stack. */
function assertChainIsComplete(credential: IssuedCredential, caCertPem: string): void {
  const leaf = readCertificate(credential.certPem, 'PKI_INVALID_CREDENTIAL', 'certificate');
  const ca = readCertificate(caCertPem, 'PKI_INVALID_CA', 'CA');
  if (!leaf.checkPrivateKey(readNodeKey(credential.keyPem))) {
    throw new PkiError(
      'PKI_INVALID_CREDENTIAL',
      'invalid credential: the private key does not match the certificate',
    );
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) {
    throw new PkiError('PKI_INVALID_CA', 'invalid CA: it did not issue this certificate');
  }
}

function readCertificate(
  pem: string,
  code: 'PKI_INVALID_CREDENTIAL' | 'PKI_INVALID_CA',
  what: string,
): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new PkiError(code, `invalid ${what}: expected a PEM certificate`, { cause: error });
  }
}

function readNodeKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new PkiError('PKI_INVALID_CREDENTIAL', 'invalid credential: unreadable private key', {
      cause: error,
    });
  }
}

function readForgeKey(pem: string): forge.pki.rsa.PrivateKey {
  try {
    // Accepts PKCS#8 ('PRIVATE KEY', what key-pair.ts writes) as well as PKCS#1.
    return forge.pki.privateKeyFromPem(pem);
  } catch (error) {
    throw new PkiError('PKI_INVALID_CREDENTIAL', 'invalid credential: expected an RSA key', {
      cause: error,
    });
  }
}

function assertValidPassword(password: string): void {
  if (typeof password !== 'string' || !PASSWORD_PATTERN.test(password)) {
    throw new PkiError(
      'PKI_INVALID_PASSWORD',
      'invalid PKCS#12 password: expected 8-128 printable ASCII characters',
    );
  }
}

function assertValidFriendlyName(friendlyName: string): void {
  if (
    typeof friendlyName !== 'string' ||
    friendlyName.length === 0 ||
    friendlyName.length > MAX_FRIENDLY_NAME_LENGTH
  ) {
    throw new PkiError(
      'PKI_INVALID_NAME',
      `invalid friendly name: expected 1-${MAX_FRIENDLY_NAME_LENGTH} characters, received ${JSON.stringify(friendlyName)}`,
    );
  }
}
