// Typed errors for the PKI module, so callers (CLI, server start-up, API) can react to a
// stable `code` instead of parsing messages.

export type PkiErrorCode =
  | 'PKI_INVALID_NAME'
  | 'PKI_NOT_INITIALIZED'
  | 'PKI_NOT_FOUND'
  | 'PKI_BUSY'
  | 'PKI_INVALID_INVENTORY'
  | 'PKI_INVALID_ROLE'
  | 'PKI_INVALID_VALIDITY'
  | 'PKI_INVALID_ALT_NAME'
  | 'PKI_INVALID_CA'
  | 'PKI_EXISTS'
  | 'PKI_KEYGEN_FAILED'
  | 'PKI_WRITE_FAILED'
  | 'PKI_INVALID_CRL'
  | 'PKI_INVALID_CRL_NUMBER'
  | 'PKI_INVALID_SERIAL'
  | 'PKI_INVALID_REASON'
  | 'PKI_INVALID_CREDENTIAL'
  | 'PKI_INVALID_PASSWORD';

export class PkiError extends Error {
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PkiError';
    this.code = code;
  }
}
