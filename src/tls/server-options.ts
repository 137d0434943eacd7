// TLS settings of the API server: TLS 1.3 only, AEAD suites only, modern groups, and a client
// certificate from our CA required before a single byte reaches the application.
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';

export interface TlsFiles {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

export const TLS13_CIPHERSUITES =
  'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

export function serverTlsOptions(files: TlsFiles): ServerOptions {
  return {
    ca: readFileSync(files.caCert),
    cert: readFileSync(files.serverCert),
    key: readFileSync(files.serverKey),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: TLS13_CIPHERSUITES,
    ecdhCurve: 'X25519:P-256:P-384',
  };
}
