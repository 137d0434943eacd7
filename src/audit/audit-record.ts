// How audit records (their shape is the contract's: src/contract/audit.ts) are signed, chained and
// read back. Each line of the log is a compact JWS whose payload is the record; each record
// carries the SHA-256 of the previous line, so editing, deleting or reordering any line breaks the
// chain after it.
import { createHash, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import type { AuditRecord } from '../contract/audit.ts';
import { AUDIT_ALGORITHM } from './audit-key.ts';

export function linkHash(jws: string): string {
  return createHash('sha256').update(jws).digest('base64url');
}

/** Signs any JSON value: records, and the log's head. */
export async function signJson(value: unknown, key: KeyObject, kid: string): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(value)))
    .setProtectedHeader({ alg: AUDIT_ALGORITHM, kid })
    .sign(key);
}

/** The record inside a JWS, without checking the signature: for queries of a trusted file. */
export function decodeRecord(jws: string): AuditRecord {
  const payload = jws.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AuditRecord;
}

/** Verifies the signature (EdDSA, by the expected key) and returns the signed JSON. */
export async function verifyJson<T>(jws: string, publicKey: KeyObject): Promise<T> {
  const header = decodeProtectedHeader(jws);
  if (header.alg !== AUDIT_ALGORITHM) throw new Error(`unexpected algorithm ${String(header.alg)}`);
  const { payload } = await compactVerify(jws, publicKey, { algorithms: [AUDIT_ALGORITHM] });
  return JSON.parse(new TextDecoder().decode(payload)) as T;
}
