// Reads and checks the TLS material the server presents and trusts: CA, server certificate and
// key, and the CRL. Everything is checked before it is used, so a half-written or mismatched set
// is refused with a reason and the server keeps serving with what it had.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseCrl, verifyCrl } from '../pki/crl.ts';

export interface TlsFiles {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly crl: string;
}

export interface TlsCredentials {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** Absent when the PKI has no CRL yet: then nothing is revoked. */
  readonly crl: string | undefined;
  readonly revokedSerials: ReadonlySet<string>;
  readonly crlNextUpdate: Date | undefined;
  /** The CRL's number: a CRL older than the one in force is refused (it could un-revoke). */
  readonly crlNumber: bigint | undefined;
  readonly serverNotAfter: Date;
}

export class TlsCredentialsError extends Error {
  readonly code = 'TLS_CREDENTIALS_INVALID';
}

/**
 * What would make a new set weaker than the one in force without anyone meaning it: the CRL
 * gone (every revocation forgotten) or replaced by an older one.
 */
export function weakeningOf(current: TlsCredentials, next: TlsCredentials): string | undefined {
  if (current.crl !== undefined && next.crl === undefined) {
    return 'the CRL disappeared: revoked clients would be let in again';
  }
  if (
    current.crlNumber !== undefined &&
    next.crlNumber !== undefined &&
    next.crlNumber < current.crlNumber
  ) {
    return `the CRL is older (number ${next.crlNumber}) than the one in force (${current.crlNumber})`;
  }
  return undefined;
}

export async function loadTlsCredentials(files: TlsFiles): Promise<TlsCredentials> {
  const [ca, cert, key, crl] = await Promise.all([
    readRequired(files.caCert),
    readRequired(files.serverCert),
    readRequired(files.serverKey),
    readOptional(files.crl),
  ]);
  const server = parseCertificate(cert, files.serverCert);
  if (!server.checkPrivateKey(parseKey(key, files.serverKey))) {
    throw new TlsCredentialsError(`${files.serverKey} does not match ${files.serverCert}`);
  }
  parseCertificate(ca, files.caCert);
  if (crl === undefined) {
    return {
      ca,
      cert,
      key,
      crl,
      revokedSerials: new Set(),
      crlNextUpdate: undefined,
      crlNumber: undefined,
      serverNotAfter: new Date(server.validTo),
    };
  }
  // A CRL the CA did not sign would make OpenSSL refuse every client, so it is never loaded.
  if (!verifyCrl(crl, ca)) {
    throw new TlsCredentialsError(`${files.crl} is not signed by the CA in ${files.caCert}`);
  }
  const parsed = parseCrl(crl);
  return {
    ca,
    cert,
    key,
    crl,
    revokedSerials: parsed.revokedSerials,
    crlNextUpdate: parsed.nextUpdate,
    crlNumber: parsed.crlNumber,
    serverNotAfter: new Date(server.validTo),
  };
}

function parseCertificate(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new TlsCredentialsError(`${path} is not a PEM certificate`, { cause: error });
  }
}

function parseKey(pem: string, path: string): ReturnType<typeof createPrivateKey> {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new TlsCredentialsError(`${path} is not a PEM private key`, { cause: error });
  }
}

async function readRequired(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new TlsCredentialsError(`cannot read ${path}`, { cause: error });
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw new TlsCredentialsError(`cannot read ${path}`, { cause: error });
  }
}
