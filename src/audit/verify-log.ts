// Checks an audit log the way an auditor would, with only the public key: every line's
// signature, the sequence numbers, each link to the line before, and the signed head that says
// how long the log should be. The answer names the first record that is not what it should be.
// The log is read a line at a time, never whole: it grows for as long as the server runs.
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { createInterface } from 'node:readline';
import { auditHeadPath, type AuditHead } from './audit-head.ts';
import type { AuditRecord, AuditVerdict } from '../contract/audit.ts';
import { linkHash, verifyJson } from './audit-record.ts';

/** What is verified: the first `bytes` bytes of the log, against the head read with them. */
export interface AuditSnapshot {
  readonly path: string;
  readonly bytes: number;
  /** The signed head's JWS; undefined when there was none. */
  readonly head: string | undefined;
  /** How the verdict names the head. */
  readonly headName: string;
}

export interface VerifyOptions {
  /** Without a head, records cut off the end go unnoticed: its absence is a failure. */
  readonly requireHead: boolean;
}

/** Verifies a log at rest, as `npm run audit -- verify` does. */
export async function verifyAuditLog(
  path: string,
  publicKey: KeyObject,
  headPath = auditHeadPath(path),
  options: VerifyOptions = { requireHead: true },
): Promise<AuditVerdict> {
  const { size } = await stat(path);
  const head = await readHeadText(headPath);
  return verifyAuditSnapshot({ path, bytes: size, head, headName: headPath }, publicKey, options);
}

/** The head file's text, or undefined when it cannot be read. */
export async function readHeadText(headPath: string): Promise<string | undefined> {
  try {
    return (await readFile(headPath, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export async function verifyAuditSnapshot(
  snapshot: AuditSnapshot,
  publicKey: KeyObject,
  options: VerifyOptions,
): Promise<AuditVerdict> {
  if (!(await endsWithNewline(snapshot))) {
    return {
      ok: false,
      line: await countLines(snapshot),
      reason: 'the last record is cut off (the file was truncated)',
    };
  }
  const chain = await verifyChain(snapshot, publicKey);
  if ('ok' in chain) return chain;
  return checkHead(snapshot, publicKey, chain, options.requireHead);
}

/** Where a chain that holds ends: how many records, and the hash of the last. */
interface ChainEnd {
  readonly records: number;
  readonly lastHash: string | null;
}

async function verifyChain(
  snapshot: AuditSnapshot,
  publicKey: KeyObject,
): Promise<ChainEnd | AuditVerdict> {
  let line = 0;
  let prev: string | null = null;
  for await (const jws of linesOf(snapshot)) {
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
  return { records: line, lastHash: prev };
}

async function checkHead(
  snapshot: AuditSnapshot,
  publicKey: KeyObject,
  { records, lastHash }: ChainEnd,
  requireHead: boolean,
): Promise<AuditVerdict> {
  const { head: headJws, headName } = snapshot;
  if (headJws === undefined) {
    if (!requireHead) return { ok: true, records, headChecked: false };
    return {
      ok: false,
      line: records + 1,
      reason: `no signed head at ${headName}: records cut off the end cannot be ruled out`,
    };
  }
  let head: AuditHead;
  try {
    head = await verifyJson<AuditHead>(headJws, publicKey);
  } catch {
    return { ok: false, line: records + 1, reason: `${headName} does not verify` };
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

/** The snapshot's lines, read as a stream; none for an empty log. */
async function* linesOf(snapshot: AuditSnapshot): AsyncGenerator<string> {
  if (snapshot.bytes === 0) return;
  const input = createReadStream(snapshot.path, { start: 0, end: snapshot.bytes - 1 });
  try {
    yield* createInterface({ input, crlfDelay: Infinity });
  } finally {
    // A verdict before the end stops reading: the file is let go then, not when collected.
    input.destroy();
  }
}

/** Whether the snapshot ends where a record does; an empty log does. */
async function endsWithNewline({ path, bytes }: AuditSnapshot): Promise<boolean> {
  if (bytes === 0) return true;
  const file = await open(path, 'r');
  try {
    const last = Buffer.alloc(1);
    const { bytesRead } = await file.read(last, 0, 1, bytes - 1);
    return bytesRead === 1 && last[0] === 0x0a;
  } finally {
    await file.close();
  }
}

/** How many lines the snapshot has, the last one unterminated. */
async function countLines(snapshot: AuditSnapshot): Promise<number> {
  let newlines = 0;
  if (snapshot.bytes > 0) {
    const input = createReadStream(snapshot.path, { start: 0, end: snapshot.bytes - 1 });
    for await (const chunk of input as AsyncIterable<Buffer>) {
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) newlines += 1;
    }
  }
  return newlines + 1;
}
