// Checks an audit log the way an auditor would, with only the public key: every line's
// signature, the sequence numbers, each link to the line before, and the signed head that says
// how long the log should be. The answer names the first record that is not what it should be.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import { auditHeadPath, type AuditHead } from './audit-log.ts';
import type { AuditRecord } from '../contract/audit.ts';
import { linkHash, verifyJson } from './audit-record.ts';

export type Verdict =
  | { readonly ok: true; readonly records: number; readonly headChecked: boolean }
  | { readonly ok: false; readonly line: number; readonly reason: string };

export async function verifyAuditLog(
  path: string,
  publicKey: KeyObject,
  headPath = auditHeadPath(path),
  options: { requireHead: boolean } = { requireHead: true },
): Promise<Verdict> {
  const text = await readFile(path, 'utf8');
  if (text !== '' && !text.endsWith('\n')) {
    const lines = text.split('\n').length;
    return {
      ok: false,
      line: lines,
      reason: 'the last record is cut off (the file was truncated)',
    };
  }
  let line = 0;
  let prev: string | null = null;
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const jws of lines) {
    line += 1;
    let record: AuditRecord;
    try {
      record = await verifyJson<AuditRecord>(jws, publicKey);
    } catch {
      return { ok: false, line, reason: 'the signature does not verify (edited or forged)' };
    }
    if (record.seq !== line) {
      return {
        ok: false,
        line,
        reason: `sequence number ${record.seq} where ${line} belongs (records deleted or reordered)`,
      };
    }
    if (record.prev !== prev) {
      return { ok: false, line, reason: 'does not link to the record before it' };
    }
    prev = linkHash(jws);
  }
  return checkHead(headPath, publicKey, line, prev, options.requireHead);
}

async function checkHead(
  headPath: string,
  publicKey: KeyObject,
  records: number,
  lastHash: string | null,
  requireHead: boolean,
): Promise<Verdict> {
  let headJws: string;
  try {
    headJws = (await readFile(headPath, 'utf8')).trim();
  } catch {
    if (!requireHead) return { ok: true, records, headChecked: false };
    return {
      ok: false,
      line: records + 1,
      reason: `no signed head at ${headPath}: records cut off the end cannot be ruled out`,
    };
  }
  let head: AuditHead;
  try {
    head = await verifyJson<AuditHead>(headJws, publicKey);
  } catch {
    return { ok: false, line: records + 1, reason: `${headPath} does not verify` };
  }
  if (head.seq !== records || head.hash !== lastHash) {
    return {
      ok: false,
      line: Math.min(head.seq, records) + 1,
      reason: `the signed head says ${head.seq} records, the file has ${records} (records cut off the end)`,
    };
  }
  return { ok: true, records, headChecked: true };
}
