// The append-only, signed and chained audit log: one compact JWS per line in `audit.log`, and a
// signed head (`audit.head`: the last sequence number and its hash) so that cutting records off
// the end is as detectable as editing one. Appends are queued and written one at a time, in
// order, so callers never wait on the disk and the chain never forks. The live log is verified
// from a snapshot taken in that same order (see verify).
import { createReadStream } from 'node:fs';
import { open, readFile, rename, stat, truncate, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
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
import { readHeadText, verifyAuditSnapshot, type AuditSnapshot } from './verify-log.ts';

export interface AuditQuery {
  readonly client?: string | undefined;
  readonly jobId?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  readonly limit: number;
}

const TAIL_PROBE_BYTES = 64 * 1024;

export class AuditLog {
  readonly #path: string;
  readonly #key: AuditKey;
  readonly #logger: Logger;
  readonly #file: FileHandle;
  readonly #onAppended: ((record: AuditRecord) => void) | undefined;
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
  ) {
    this.#onAppended = onAppended;
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
  ): Promise<AuditLog> {
    const { head, partialBytes } = await readTail(path);
    if (partialBytes > 0) {
      // A crash in the middle of an append leaves half a line: it is cut off (and the cut is
      // itself recorded below) so that the chain goes on from the last complete record.
      await truncate(path, (await stat(path)).size - partialBytes);
    }
    const file = await open(path, 'a', 0o600);
    const log = new AuditLog(path, key, logger, file, head, onAppended);
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

  /** The newest `limit` records that match, newest first. */
  async query(filter: AuditQuery): Promise<SignedAuditRecord[]> {
    const matches: SignedAuditRecord[] = [];
    const lines = createInterface({ input: createReadStream(this.#path), crlfDelay: Infinity });
    for await (const jws of lines) {
      if (jws === '') continue;
      const record = decodeRecord(jws);
      if (!matchesQuery(record, filter)) continue;
      matches.push({ ...record, jws });
      if (matches.length > filter.limit) matches.shift();
    }
    return matches.reverse();
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
    // A log without records has no head yet: the first append writes it.
    return verifyAuditSnapshot(snapshot, this.#key.publicKey, { requireHead: snapshot.bytes > 0 });
  }

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
    const record: AuditRecord = {
      seq: this.#seq + 1,
      time: new Date().toISOString(),
      prev: this.#prev,
      ...event,
    };
    const jws = await signJson(record, this.#key.privateKey, this.#key.kid);
    await this.#file.write(`${jws}\n`);
    this.#seq = record.seq;
    this.#prev = linkHash(jws);
    await this.#writeHead();
    this.#onAppended?.(record);
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

/** The log's length and its head's text, named without the server's directories. */
async function snapshotOf(path: string): Promise<AuditSnapshot> {
  const headPath = auditHeadPath(path);
  const [bytes, head] = await Promise.all([sizeOf(path), readHeadText(headPath)]);
  return { path, bytes, head, headName: basename(headPath) };
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
