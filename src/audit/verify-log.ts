// Checks an audit trail the way an auditor would, with only the public key: every line's
// signature, the sequence numbers, each link to the line before (across the rotated files, the
// first record of a file linking to the last of the one before), and the signed head that says
// how long the trail should be. The answer names the file and line of the first record that is
// not what it should be. Files are read a line at a time, never whole.
//
// Closed files may have been shipped away and deleted, oldest first: the trail is then verified
// from the oldest record present, whose own link to what came before cannot be checked any more,
// and the verdict says after which record it starts (`startsAfter`) rather than failing.
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { auditHeadPath, type AuditHead } from './audit-head.ts';
import { listAuditFiles } from './audit-files.ts';
import type { AuditRecord, AuditVerdict } from '../contract/audit.ts';
import { linkHash, verifyJson } from './audit-record.ts';

/** One file as it is verified: its first `bytes` bytes. */
export interface AuditFileSnapshot {
  readonly path: string;
  readonly bytes: number;
  /** The sequence number its name says it starts at; undefined for the current file. */
  readonly firstSeq: number | undefined;
  /** Read through this when given: the current file may be renamed by a rotation meanwhile. */
  readonly handle?: FileHandle | undefined;
}

/** What is verified: every file of the trail, oldest first, against the head read with them. */
export interface AuditSnapshot {
  readonly files: readonly AuditFileSnapshot[];
  /** The signed head's JWS; undefined when there was none. */
  readonly head: string | undefined;
  /** How the verdict names the head. */
  readonly headName: string;
}

export interface VerifyOptions {
  /** Without a head, records cut off the end go unnoticed: its absence is a failure. */
  readonly requireHead: boolean;
}

type Failure = Extract<AuditVerdict, { ok: false }>;

/** Verifies a trail at rest, as `npm run audit -- verify` does: `path` is its current file. */
export async function verifyAuditLog(
  path: string,
  publicKey: KeyObject,
  headPath = auditHeadPath(path),
  options: VerifyOptions = { requireHead: true },
): Promise<AuditVerdict> {
  const files = await Promise.all(
    (await listAuditFiles(path)).map(async (file) => ({
      ...file,
      bytes: (await stat(file.path)).size,
    })),
  );
  const head = await readHeadText(headPath);
  return verifyAuditSnapshot({ files, head, headName: headPath }, publicKey, options);
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
  const chain = new ChainWalk(publicKey);
  for (const file of snapshot.files) {
    const failure = await withHandle(file, (handle) => chain.walkFile(file, handle));
    if (failure !== undefined) return failure;
  }
  return checkHead(snapshot, publicKey, chain, options.requireHead);
}

/** Where each verified file's records start, to name the file and line of a sequence number. */
interface FileSpan {
  readonly name: string;
  readonly firstSeq: number;
}

/** The chain as it is read, file after file: what the next record must be. */
class ChainWalk {
  readonly #publicKey: KeyObject;
  /** The sequence number the next record must have; undefined before the first. */
  #next: number | undefined;
  #prev: string | null = null;
  #records = 0;
  readonly #spans: FileSpan[] = [];

  constructor(publicKey: KeyObject) {
    this.#publicKey = publicKey;
  }

  /** How many records were verified. */
  get records(): number {
    return this.#records;
  }

  /** The last record verified: its sequence number (0 for none) and hash. */
  get last(): { seq: number; hash: string | null } {
    return { seq: (this.#next ?? 1) - 1, hash: this.#prev };
  }

  /** The records before the first one present, whose files were shipped away; 0 for none. */
  get startsAfter(): number {
    return this.last.seq - this.#records;
  }

  /** Where a sequence number is (or would be, one past the end). */
  locate(seq: number): { file: string; line: number } {
    const span = this.#spans.findLast((candidate) => candidate.firstSeq <= seq) ?? this.#spans[0];
    if (span === undefined) return { file: '', line: 1 };
    return { file: span.name, line: seq - span.firstSeq + 1 };
  }

  async walkFile(
    file: AuditFileSnapshot,
    handle: FileHandle | undefined,
  ): Promise<Failure | undefined> {
    const name = basename(file.path);
    if (!(await endsWithNewline(handle, file.bytes))) {
      const line = await countLines(handle, file.bytes);
      return {
        ok: false,
        file: name,
        line,
        reason: 'the last record is cut off (the file was truncated)',
      };
    }
    let line = 0;
    // An empty file would hold the next record; otherwise its first line's number names it.
    let firstSeq = this.last.seq + 1;
    for await (const jws of linesOf(handle, file.bytes)) {
      line += 1;
      const failure = await this.#step(jws, line === 1 ? file.firstSeq : undefined);
      if (failure !== undefined) return { ok: false, file: name, line, reason: failure };
      if (line === 1) firstSeq = this.last.seq;
    }
    this.#spans.push({ name, firstSeq });
    return undefined;
  }

  /** Checks one record; the reason it is bad, or undefined. */
  async #step(jws: string, namedSeq: number | undefined): Promise<string | undefined> {
    let record: AuditRecord;
    try {
      record = await verifyJson<AuditRecord>(jws, this.#publicKey);
    } catch {
      return 'the signature does not verify (edited or forged)';
    }
    if (namedSeq !== undefined && record.seq !== namedSeq) {
      return `sequence number ${record.seq} in a file named as starting at ${namedSeq} (renamed or edited)`;
    }
    const expected = this.#next ?? 1;
    // The oldest record present anchors the chain when older files were shipped away: its link
    // to them cannot be checked, every later one's can.
    const anchored = this.#next === undefined && record.seq > 1;
    if (!anchored && record.seq !== expected) {
      return `sequence number ${record.seq} where ${expected} belongs (records deleted or reordered)`;
    }
    if (!anchored && record.prev !== this.#prev) return 'does not link to the record before it';
    this.#next = record.seq + 1;
    this.#prev = linkHash(jws);
    this.#records += 1;
    return undefined;
  }
}

async function checkHead(
  snapshot: AuditSnapshot,
  publicKey: KeyObject,
  chain: ChainWalk,
  requireHead: boolean,
): Promise<AuditVerdict> {
  const { head: headJws, headName } = snapshot;
  const { records, startsAfter } = chain;
  const note = startsAfter > 0 ? { startsAfter } : {};
  const end = chain.last;
  if (headJws === undefined) {
    if (!requireHead) return { ok: true, records, headChecked: false, ...note };
    return {
      ok: false,
      ...chain.locate(end.seq + 1),
      reason: `no signed head at ${headName}: records cut off the end cannot be ruled out`,
    };
  }
  let head: AuditHead;
  try {
    head = await verifyJson<AuditHead>(headJws, publicKey);
  } catch {
    return { ok: false, ...chain.locate(end.seq + 1), reason: `${headName} does not verify` };
  }
  if (head.seq !== end.seq || head.hash !== end.hash) {
    const holds = snapshot.files.length === 1 ? 'the file has' : 'the files have';
    return {
      ok: false,
      ...chain.locate(Math.min(head.seq, end.seq) + 1),
      reason: `the signed head says ${head.seq} records, ${holds} ${end.seq} (records cut off the end)`,
    };
  }
  return { ok: true, records, headChecked: true, ...note };
}

/** Runs `use` with the file's handle, opening (and closing) one unless the snapshot holds it. */
async function withHandle<T>(
  file: AuditFileSnapshot,
  use: (handle: FileHandle | undefined) => Promise<T>,
): Promise<T> {
  // An empty file is not opened: the current one may not exist yet.
  if (file.handle !== undefined || file.bytes === 0) return use(file.handle);
  const handle = await open(file.path, 'r');
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

/** The first `bytes` bytes' lines, read as a stream; none for an empty file. */
async function* linesOf(handle: FileHandle | undefined, bytes: number): AsyncGenerator<string> {
  if (handle === undefined || bytes === 0) return;
  const input = handle.createReadStream({ start: 0, end: bytes - 1, autoClose: false });
  try {
    yield* createInterface({ input, crlfDelay: Infinity });
  } finally {
    // A verdict before the end stops reading; the handle is closed by whoever opened it.
    input.destroy();
  }
}

/** Whether the first `bytes` bytes end where a record does; an empty file does. */
async function endsWithNewline(handle: FileHandle | undefined, bytes: number): Promise<boolean> {
  if (handle === undefined || bytes === 0) return true;
  const last = Buffer.alloc(1);
  const { bytesRead } = await handle.read(last, 0, 1, bytes - 1);
  return bytesRead === 1 && last[0] === 0x0a;
}

/** How many lines the first `bytes` bytes have, the last one unterminated. */
async function countLines(handle: FileHandle | undefined, bytes: number): Promise<number> {
  let newlines = 0;
  if (handle !== undefined && bytes > 0) {
    const input = handle.createReadStream({ start: 0, end: bytes - 1, autoClose: false });
    for await (const chunk of input as AsyncIterable<Buffer>) {
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) newlines += 1;
    }
  }
  return newlines + 1;
}
