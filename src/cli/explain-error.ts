// Turns what Node reports when a connection fails (errno codes, OpenSSL verification codes, TLS
// alerts) into one line that says what went wrong and which setting to look at. Loaded only when
// a request has failed, so a command that succeeds never pays for it.
import type { ConnectionSettings } from './connection.ts';
import { CliError } from './errors.ts';

/** What a failed request had got to, so the failure can be explained. */
export interface RequestPhase {
  /** The TLS handshake completed on this request's connection. */
  secured: boolean;
  /** The connection had served an earlier request. */
  reused: boolean;
}

/** Verification failures of the server's certificate against our CA (OpenSSL's names). */
const UNTRUSTED_SERVER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** TLS alerts a server sends about our certificate, and what each means. */
const CLIENT_CERTIFICATE_ALERTS: Readonly<Record<string, string>> = {
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: 'it has been revoked',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'it has expired',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'it is not issued by a CA the server trusts',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the server found it invalid',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'the server could not verify it',
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: 'it is not a client certificate',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the server got no certificate',
};

export async function explainRequestError(
  error: unknown,
  settings: ConnectionSettings,
  phase: RequestPhase,
): Promise<CliError> {
  const { code = '', message = String(error) } = error as NodeJS.ErrnoException;
  const server = settings.url.host;
  const from = `server from ${settings.server.origin}`;
  const fail = (kind: 'CONNECTION_FAILED' | 'TLS_FAILED', text: string): CliError =>
    new CliError(kind, text, { cause: error });

  switch (code) {
    case 'ECONNREFUSED':
      return fail(
        'CONNECTION_FAILED',
        `cannot connect to ${server}: connection refused; is the server running? (${from})`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return fail(
        'CONNECTION_FAILED',
        `cannot connect to ${server}: unknown host '${settings.url.hostname}' (${from})`,
      );
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return fail(
        'CONNECTION_FAILED',
        `cannot connect to ${server}: ${code === 'ETIMEDOUT' ? 'no answer' : 'no route to the host'} (${from})`,
      );
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
    case 'CERT_REVOKED':
      return fail(
        'TLS_FAILED',
        `the certificate of ${server} ${code === 'CERT_REVOKED' ? 'has been revoked' : code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet'}`,
      );
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return fail(
        'TLS_FAILED',
        `the certificate of ${server} is not valid for the name '${settings.url.hostname}' (${from})`,
      );
  }
  if (UNTRUSTED_SERVER.has(code)) {
    return fail(
      'TLS_FAILED',
      `the certificate of ${server} is not signed by the CA in ${settings.ca.value} ` +
        `(CA from ${settings.ca.origin}): wrong CA for this server?`,
    );
  }
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    (code === 'EPROTO' && /wrong version number|packet length too long/.test(message))
  ) {
    return fail(
      'TLS_FAILED',
      `${server} does not speak TLS; is it the job worker's HTTPS port? (${from})`,
    );
  }
  const alert = CLIENT_CERTIFICATE_ALERTS[code];
  if (alert !== undefined) return fail('TLS_FAILED', refused(settings, alert));
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return fail('TLS_FAILED', `the TLS handshake with ${server} failed: ${tlsReason(message)}`);
  }
  if ((code === 'ECONNRESET' || code === 'EPIPE') && phase.secured && !phase.reused) {
    // The server verifies client certificates after the TLS 1.3 handshake and simply hangs up
    // on one it refuses, without saying why; so look at the certificate here for the likely cause.
    const { diagnoseClientCertificate } = await import('./certificate-check.ts');
    const reason =
      diagnoseClientCertificate(settings) ??
      'it may have been revoked, or not be issued by a CA the server trusts';
    return fail('TLS_FAILED', refused(settings, reason));
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return fail(
      'CONNECTION_FAILED',
      `the connection to ${server} was closed before it answered; is it a jobworker server? (${from})`,
    );
  }
  return fail('CONNECTION_FAILED', `cannot talk to ${server}: ${tlsReason(message)} (${from})`);
}

/** A CA, certificate or key that OpenSSL would not load, named with the setting it came from. */
export function explainCredentialsError(error: unknown, settings: ConnectionSettings): CliError {
  const { code = '' } = error as NodeJS.ErrnoException;
  const files = `${settings.cert.value} (from ${settings.cert.origin}) and ${settings.key.value} (from ${settings.key.origin})`;
  const text =
    code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
      ? `the client key does not belong to the client certificate: ${files}`
      : code.startsWith('ERR_OSSL_PEM') || code.startsWith('ERR_OSSL')
        ? `the client certificate or key is not a PEM file: ${files}`
        : `cannot use the client certificate and key ${files}: ${(error as Error).message}`;
  return new CliError('FILE_UNREADABLE', text, { cause: error });
}

function refused(settings: ConnectionSettings, reason: string): string {
  return (
    `the server refused the client certificate ${settings.cert.value} ` +
    `(from ${settings.cert.origin}): ${reason}`
  );
}

/** OpenSSL's messages end in "...:ssl3_read_bytes:tlsv1 alert x:../deps/...": keep the reason. */
function tlsReason(message: string): string {
  const firstLine = message.trim().split('\n')[0] ?? message;
  if (!firstLine.includes(':error:')) return firstLine;
  const reason = firstLine
    .split(':')
    .find((part) => /alert|wrong|unsupported|no |bad /i.test(part));
  return (reason ?? firstLine).trim();
}
