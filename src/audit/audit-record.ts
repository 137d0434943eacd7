// The shape of one audit record, and how records are signed, chained and read back. Each line of
// the log is a compact JWS whose payload is the record; each record carries the SHA-256 of the
// previous line, so editing, deleting or reordering any line breaks the chain after it.
import { createHash, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { AUDIT_ALGORITHM } from './audit-key.ts';

export type AuditOutcome = 'allowed' | 'denied' | 'failed';

export interface AuditClient {
  readonly name: string | null;
  readonly role: string | null;
  readonly serial: string | null;
  readonly fingerprint256: string | null;
}

/** What the server reports; the log adds the sequence number, time and chain link. */
export interface AuditEvent {
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly status: number | null;
  readonly client: AuditClient;
  readonly jobId: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditRecord extends AuditEvent {
  readonly seq: number;
  readonly time: string;
  /** base64url SHA-256 of the previous line (its JWS); null for the first record. */
  readonly prev: string | null;
}

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
