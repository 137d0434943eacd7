// Subject alternative names for server certificates. TLS clients match the host they dial
// against these (not the CN), so IP addresses must be encoded as IP entries, not DNS names.

import { isIP } from 'node:net';
import { PkiError } from './errors.ts';

// forge's GeneralName shapes: type 2 is dNSName, type 7 is iPAddress.
export type ForgeAltName = { type: 2; value: string } | { type: 7; ip: string };

const DNS_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
// An optional leading wildcard label, then dot-separated LDH labels.
const DNS_NAME_PATTERN = new RegExp(`^(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*$`, 'i');
const MAX_DNS_NAME_LENGTH = 253;

export function isDnsName(value: string): boolean {
  return value.length <= MAX_DNS_NAME_LENGTH && DNS_NAME_PATTERN.test(value);
}

export function toForgeAltName(name: string): ForgeAltName {
  if (isIP(name) !== 0) {
    return { type: 7, ip: name };
  }
  if (isDnsName(name)) {
    return { type: 2, value: name };
  }
  throw new PkiError(
    'PKI_INVALID_ALT_NAME',
    `invalid subject alternative name: expected a DNS name or an IPv4/IPv6 address, received ${JSON.stringify(name)}`,
  );
}

/** Converts and de-duplicates; at least one name is required because clients ignore the CN. */
export function toForgeAltNames(names: readonly string[]): ForgeAltName[] {
  const unique = [...new Set(names)];
  if (unique.length === 0) {
    throw new PkiError(
      'PKI_INVALID_ALT_NAME',
      'invalid subject alternative names: expected at least one DNS name or IP address, received none',
    );
  }
  return unique.map(toForgeAltName);
}
