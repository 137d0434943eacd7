// TLS settings of the API server: TLS 1.3 only, AEAD suites only, modern groups, and a client
// certificate from our CA (and not on its CRL) required before a byte reaches the application.
import type { SecureContextOptions } from 'node:tls';
import type { ServerOptions } from 'node:https';
import type { TlsCredentials } from './credentials.ts';

export const TLS13_CIPHERSUITES =
  'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/** What a credentials reload replaces: passed to `server.setSecureContext` as a whole. */
export function secureContextOptions(credentials: TlsCredentials): SecureContextOptions {
  return {
    ca: credentials.ca,
    cert: credentials.cert,
    key: credentials.key,
    ...(credentials.crl === undefined ? {} : { crl: credentials.crl }),
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: TLS13_CIPHERSUITES,
    ecdhCurve: 'X25519:P-256:P-384',
  };
}

export function serverTlsOptions(credentials: TlsCredentials): ServerOptions {
  return {
    ...secureContextOptions(credentials),
    requestCert: true,
    // Node would disconnect an unverified client after the handshake without saying why;
    // guardClientCertificates disconnects it the same way, and logs the reason.
    rejectUnauthorized: false,
  };
}
