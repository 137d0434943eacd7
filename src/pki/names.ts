// Validation of client names. A client name becomes a directory under clients/ and the
// identity the API authorises, so it must be a short, lowercase, traversal-free token.

import { PkiError } from './errors.ts';

// Leading character excludes '.' and '-' so '..', '.hidden' and option-like names are impossible.
export const CLIENT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function isValidClientName(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_NAME_PATTERN.test(value);
}

export function assertValidClientName(value: unknown): asserts value is string {
  if (!isValidClientName(value)) {
    throw new PkiError(
      'PKI_INVALID_NAME',
      `invalid client name: expected 1-63 characters matching ${String(CLIENT_NAME_PATTERN)} ` +
        `(lowercase letters, digits, '.', '_', '-', starting with a letter or digit), ` +
        `received ${JSON.stringify(value)}`,
    );
  }
}
