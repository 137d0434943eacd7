// Turns the subject of a verified client certificate into the caller's identity. The TLS
// layer has already checked the chain; this only reads the name (CN) and role (OU).

import { isValidClientName } from './names.ts';
import { isRole, type Role } from './roles.ts';

export type Identity = { name: string; role: Role };

/** Node's `getPeerCertificate().subject`: a field repeated in the DN becomes an array. */
export type CertificateSubject = {
  CN?: string | string[] | undefined;
  OU?: string | string[] | undefined;
};

/** Returns undefined unless the subject has exactly one valid CN and exactly one known OU. */
export function identityFromSubject(subject: CertificateSubject): Identity | undefined {
  const name = subject.CN;
  const role = subject.OU;
  // Arrays are rejected, not searched: with two OUs there is no safe way to choose a role.
  if (!isValidClientName(name) || !isRole(role)) return undefined;
  return { name, role };
}
