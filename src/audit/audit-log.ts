// The append-only, signed and chained audit log: one compact JWS per line in `audit.log`, and a
// signed head (`audit.head`: the last sequence number and its hash) so that cutting records off
// the end is as detectable as editing one. Appends are queued and written one at a time, in
// order, so callers never wait on the disk and the chain never forks. The live log is verified
// from a snapshot taken in that same order (see verify). With a rotation size, a full
// `audit.log` is closed and renamed before the next append (audit-files.ts names the files), and
// the chain goes on in a new one: its first record links to the last of the closed file.
import { createReadStream } from 'node:fs';
import { open, readFile, rename, stat, truncate, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { closedAuditPath, listAuditFiles, type AuditFile } from './audit-files.ts';
import type { Logger } from 'pino';
import type { JWK } from 'jose';
import { auditHeadPath, type AuditHead } from './audit-head.ts';
import type { AuditKey } from './audit-key.ts';
import type {
  AuditEvent,
  AuditRecord,
  AuditVerdict,
  SignedAuditRecord,
} from '../contract/audit.ts';
import { decodeRecord, linkHash, signJson, verifyJson } from './audit-record.ts';
import {
  readHeadText,
  verifyAuditSnapshot,
  type AuditFileSnapshot,
  type AuditSnapshot,
} from './verify-log.ts';

export interface AuditQuery {
  readonly client?: string | undefined;
  readonly jobId?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  readonly limit: number;
}

export interface AuditLogOptions {
  /** The size at which the current file is closed and a new one started; 0 for never. */
  readonly rotateBytes?: number;
}

const TAIL_PROBE_BYTES = 64 * 1024;

export class AuditLog {
  readonly #path: string;
  readonly #key: AuditKey;
  readonly #logger: Logger;
  #file: FileHandle;
  readonly #onAppended: ((record: AuditRecord) => void) | undefined;
  readonly #rotateBytes: number;
  /** The current file's size, and the sequence number of its first record (undefined: none). */
  #bytes: number;
  #firstSeq: number | undefined;
  #seq: number;
  #prev: string | null;
  #queue: Promise<void> = Promise.resolve();
  /** The verification under way, shared by whoever asks meanwhile. */
  #verifying: Promise<AuditVerdict> | undefined;
  #closed = false;

  private constructor(
    path: string,
    key: AuditKey,
    logger: Logger,
    file: FileHandle,
    head: AuditHead,
    onAppended: ((record: AuditRecord) => void) | undefined,
    current: { bytes: number; firstSeq: number | undefined; rotateBytes: number },
  ) {
    this.#onAppended = onAppended;
    this.#bytes = current.bytes;
    this.#firstSeq = current.firstSeq;
    this.#rotateBytes = current.rotateBytes;
    this.#path = path;
    this.#key = key;
    this.#logger = logger;
    this.#file = file;
    this.#seq = head.seq;
    this.#prev = head.hash;
  }

  /** Opens (or creates) the log and continues its chain from the last complete record. */
  /** `onAppended` is told of each record once it is in the log (to ship it elsewhere too). */
  static async open(
    path: string,
    key: AuditKey,
    logger: Logger,
    onAppended?: (record: AuditRecord) => void,
    options: AuditLogOptions = {},
  ): Promise<AuditLog> {
    const tail = await readTail(path);
    const { partialBytes } = tail;
    // A current file without records (just rotated) goes on from the last closed file's.
    const head = tail.head.seq > 0 ? tail.head : await closedTail(path);
    if (partialBytes > 0) {
      // A crash in the middle of an append leaves half a line: it is cut off (and the cut is
      // itself recorded below) so that the chain goes on from the last complete record.
      await truncate(path, (await stat(path)).size - partialBytes);
    }
    const file = await open(path, 'a', 0o600);
    const current = {
      bytes: (await file.stat()).size,
      firstSeq: tail.head.seq > 0 ? await firstSeqOf(path) : undefined,
      rotateBytes: options.rotateBytes ?? 0,
    };
    const log = new AuditLog(path, key, logger, file, head, onAppended, current);
    // The signed head says how long the log was: records cut off the end (or the head removed)
    // while the server was down are recorded, so continuing the chain does not hide them.
    const signedHead = await readSignedHead(auditHeadPath(path), key);
    const matches =
      signedHead === 'missing'
        ? head.seq === 0
        : signedHead !== 'invalid' && signedHead.seq === head.seq && signedHead.hash === head.hash;
    if (!matches) {
      logger.error(
        { signedHead, found: head },
        'audit log does not match its signed head (records cut off, head removed, or a crash between the two writes)',
      );
      log.record({
        action: 'audit.head_mismatch',
        outcome: 'failed',
        status: null,
        client: { name: null, role: null, serial: null, fingerprint256: null },
        jobId: null,
        details: { signedHead, found: head },
      });
    }
    if (partialBytes > 0) {
      logger.warn({ partialBytes }, 'audit log ended in a partial record; it was cut off');
      log.record({
        action: 'audit.recovered',
        outcome: 'failed',
        status: null,
        client: { name: null, role: null, serial: null, fingerprint256: null },
        jobId: null,
        details: { partialBytesRemoved: partialBytes },
      });
    }
    return log;
  }

  get jwks(): { keys: JWK[] } {
    return { keys: [this.#key.publicJwk] };
  }

  /** Queues one record; failures are logged, never thrown at the request that caused it. */
  record(event: AuditEvent): void {
    if (this.#closed) return;
    this.#queue = this.#queue
      .then(() => this.#append(event))
      .catch((error: unknown) =>
        this.#logger.error({ err: error, action: event.action }, 'audit record not written'),
      );
  }

  /**
   * The newest `limit` records that match, newest first. Files are read newest first, and the
   * older ones only while fewer than `limit` records have matched.
   */
  async query(filter: AuditQuery): Promise<SignedAuditRecord[]> {
    const snapshot = await this.#snapshot();
    try {
      let matches: SignedAuditRecord[] = [];
      for (const file of [...snapshot.files].reverse()) {
        if (matches.length >= filter.limit) break;
        const older = await matchesIn(file, filter);
        matches = [...older, ...matches].slice(-filter.limit);
      }
      return matches.reverse();
    } finally {
      await releaseSnapshot(snapshot);
    }
  }

  /**
   * Verifies the whole chain against its signed head, as `npm run audit -- verify` does, while
   * records go on being appended. Each append writes its record and then renames a new head
   * into place, so the two files agree only between appends: read at any other moment, the log
   * can hold a record the head does not count yet, or half of one. The snapshot is therefore
   * taken in the append queue itself, between two appends: the log's length and the head's
   * text of that moment. Only that prefix of the log is verified, against that head; records
   * appended meanwhile are left to the next verification. The queue waits for nothing but a
   * stat and the read of a small file; the verification runs beside the appends that follow.
   * Callers that ask while one runs share it (its verdict says how many records it covered): it
   * checks every signature, so many at once would only multiply the CPU it takes.
   */
  verify(): Promise<AuditVerdict> {
    this.#verifying ??= this.#verifyOnce().finally(() => {
      this.#verifying = undefined;
    });
    return this.#verifying;
  }

  async #verifyOnce(): Promise<AuditVerdict> {
    const snapshot = await this.#snapshot();
    try {
      // A log without records has no head yet: the first append writes it.
      const requireHead = snapshot.files.some((file) => file.bytes > 0);
      return await verifyAuditSnapshot(snapshot, this.#key.publicKey, { requireHead });
    } finally {
      await releaseSnapshot(snapshot);
    }
  }

  /** The files as they stand between two appends; the caller releases it. */
  #snapshot(): Promise<AuditSnapshot> {
    const taken = this.#queue.then(() => snapshotOf(this.#path));
    this.#queue = taken.then(
      () => undefined,
      () => undefined,
    );
    return taken;
  }

  /** Waits for queued records to be written, then closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    await this.#file.close();
  }

  async #append(event: AuditEvent): Promise<void> {
    if (this.#rotateBytes > 0 && this.#bytes >= this.#rotateBytes) await this.#rotate();
    const record: AuditRecord = {
      seq: this.#seq + 1,
      time: new Date().toISOString(),
      prev: this.#prev,
      ...event,
    };
    const jws = await signJson(record, this.#key.privateKey, this.#key.kid);
    const line = `${jws}\n`;
    await this.#file.write(line);
    this.#bytes += Buffer.byteLength(line);
    this.#firstSeq ??= record.seq;
    this.#seq = record.seq;
    this.#prev = linkHash(jws);
    await this.#writeHead();
    this.#onAppended?.(record);
  }

  /**
   * Closes the full file under its closed name and starts an empty one. The head is left as it
   * is: it names the last record, now in the closed file, until the next append. A crash between
   * the rename and the open leaves no current file, and open() goes on from the closed one. The
   * full file is closed only once the new one is open: a rename that fails leaves the log as it
   * was, appending to the same file.
   */
  async #rotate(): Promise<void> {
    if (this.#firstSeq === undefined) return;
    await rename(this.#path, closedAuditPath(this.#path, this.#firstSeq));
    const full = this.#file;
    this.#file = await open(this.#path, 'a', 0o600);
    await full.close();
    this.#bytes = 0;
    this.#firstSeq = undefined;
    this.#logger.info({ closedAfter: this.#seq }, 'audit log rotated');
  }

  async #writeHead(): Promise<void> {
    const head: AuditHead = { seq: this.#seq, hash: this.#prev };
    const jws = await signJson(head, this.#key.privateKey, this.#key.kid);
    const path = auditHeadPath(this.#path);
    const temp = `${path}.tmp`;
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(`${jws}\n`);
    } finally {
      await file.close();
    }
    await rename(temp, path);
  }
}

async function readSignedHead(
  path: string,
  key: AuditKey,
): Promise<AuditHead | 'missing' | 'invalid'> {
  let jws: string;
  try {
    jws = (await readFile(path, 'utf8')).trim();
  } catch {
    return 'missing';
  }
  return verifyJson<AuditHead>(jws, key.publicKey).catch(() => 'invalid' as const);
}

/**
 * Every file's length and the head's text, named without the server's directories. The current
 * file is held open: a rotation may rename it before it is read.
 */
async function snapshotOf(path: string): Promise<AuditSnapshot> {
  const headPath = auditHeadPath(path);
  const listed = await listAuditFiles(path);
  const closed = listed.filter((file) => file.firstSeq !== undefined);
  const [closedFiles, current, head] = await Promise.all([
    Promise.all(closed.map(closedSnapshot)),
    currentSnapshot(path),
    readHeadText(headPath),
  ]);
  const files = [...closedFiles.filter((file) => file !== undefined), current];
  return { files, head, headName: basename(headPath) };
}

/** A closed file's size; undefined if it was deleted (shipped away) since it was listed. */
async function closedSnapshot(file: AuditFile): Promise<AuditFileSnapshot | undefined> {
  const bytes = await sizeOf(file.path);
  return bytes === 0 ? undefined : { ...file, bytes };
}

async function currentSnapshot(path: string): Promise<AuditFileSnapshot> {
  try {
    const handle = await open(path, 'r');
    return { path, firstSeq: undefined, bytes: (await handle.stat()).size, handle };
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      return { path, firstSeq: undefined, bytes: 0 };
    }
    throw error;
  }
}

async function releaseSnapshot(snapshot: AuditSnapshot): Promise<void> {
  for (const file of snapshot.files) await file.handle?.close();
}

/** The newest `limit` records of one file that match, oldest first. */
async function matchesIn(
  file: AuditFileSnapshot,
  filter: AuditQuery,
): Promise<SignedAuditRecord[]> {
  if (file.bytes === 0) return [];
  const input =
    file.handle === undefined
      ? createReadStream(file.path, { start: 0, end: file.bytes - 1 })
      : file.handle.createReadStream({ start: 0, end: file.bytes - 1, autoClose: false });
  const matches: SignedAuditRecord[] = [];
  try {
    for await (const jws of createInterface({ input, crlfDelay: Infinity })) {
      if (jws === '') continue;
      const record = decodeRecord(jws);
      if (!matchesQuery(record, filter)) continue;
      matches.push({ ...record, jws });
      if (matches.length > filter.limit) matches.shift();
    }
  } finally {
    input.destroy();
  }
  return matches;
}

/** A log that is gone is verified as empty: its head, if any, then says what is missing. */
async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return 0;
    throw error;
  }
}

function matchesQuery(record: AuditRecord, filter: AuditQuery): boolean {
  if (filter.client !== undefined && record.client.name !== filter.client) return false;
  if (filter.jobId !== undefined && record.jobId !== filter.jobId) return false;
  const time = Date.parse(record.time);
  if (filter.since !== undefined && time < filter.since.getTime()) return false;
  if (filter.until !== undefined && time > filter.until.getTime()) return false;
  return true;
}

/** The last record of the newest closed file: where a current file without records goes on. */
async function closedTail(path: string): Promise<AuditHead> {
  const closed = (await listAuditFiles(path)).filter((file) => file.firstSeq !== undefined);
  const newest = closed.at(-1);
  return newest === undefined ? { seq: 0, hash: null } : (await readTail(newest.path)).head;
}

/** The sequence number of the file's first record. */
async function firstSeqOf(path: string): Promise<number | undefined> {
  const input = createReadStream(path);
  try {
    for await (const jws of createInterface({ input, crlfDelay: Infinity })) {
      if (jws !== '') return decodeRecord(jws).seq;
    }
    return undefined;
  } finally {
    input.destroy();
  }
}

/** The last complete record's sequence number and hash, and how many bytes follow it. */
async function readTail(path: string): Promise<{ head: AuditHead; partialBytes: number }> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      return { head: { seq: 0, hash: null }, partialBytes: 0 };
    }
    throw error;
  }
  try {
    const { size } = await file.stat();
    // Records can be large (a job's argv), so the window grows until it holds the whole last one.
    for (let window = TAIL_PROBE_BYTES; ; window *= 2) {
      const length = Math.min(size, window);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      const end = buffer.lastIndexOf(0x0a);
      const partialBytes = end < 0 ? length : length - end - 1;
      const start = end < 0 ? -1 : buffer.lastIndexOf(0x0a, end - 1);
      const whole = length === size;
      if (end < 0 && whole) return { head: { seq: 0, hash: null }, partialBytes };
      if (end >= 0 && (start >= 0 || whole)) {
        const last = buffer.subarray(start + 1, end).toString('utf8');
        return { head: { seq: decodeRecord(last).seq, hash: linkHash(last) }, partialBytes };
      }
    }
  } finally {
    await file.close();
  }
}
