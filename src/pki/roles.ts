// The roles a client certificate can carry (in its OU). The API authorises requests by
// these, so this tuple is the single source of truth for both issuing and checking.

import { PkiError } from './errors.ts';

export const ROLES = ['admin', 'user', 'auditor'] as const;

export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function assertRole(value: unknown): asserts value is Role {
  if (!isRole(value)) {
    throw new PkiError(
      'PKI_INVALID_ROLE',
      `invalid role: expected one of ${ROLES.join(', ')}, received ${JSON.stringify(value)}`,
    );
  }
}
