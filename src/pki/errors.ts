// Typed errors for the PKI module, so callers (CLI, server start-up, API) can react to a
// stable `code` instead of parsing messages.

export type PkiErrorCode =
  | 'PKI_INVALID_NAME'
  | 'PKI_INVALID_ROLE'
  | 'PKI_INVALID_VALIDITY'
  | 'PKI_INVALID_ALT_NAME'
  | 'PKI_INVALID_CA'
  | 'PKI_EXISTS'
  | 'PKI_KEYGEN_FAILED'
  | 'PKI_WRITE_FAILED';

export class PkiError extends Error {
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PkiError';
    this.code = code;
  }
}
