// Certificate serial numbers: 128 random bits, as CA/B Forum guidance asks for at least 64
// bits of randomness so that serials cannot be predicted.

import { randomBytes } from 'node:crypto';

const SERIAL_BYTES = 16;

/** Returns a positive, minimally DER-encodable serial number as hex (forge's format). */
export function randomSerialNumber(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  // Clearing the top bit keeps the INTEGER positive. A zero first byte would make the DER
  // encoding non-minimal, which OpenSSL rejects, so it is bumped to 1.
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}
