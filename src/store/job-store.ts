// The jobs table's store, synchronous over node:sqlite: the only module that reads or writes the
// table (its longer queries are spelled in job-queries.ts, its rows mapped in job-rows.ts).
// SqliteStore (sqlite-store.ts) offers it as the asynchronous Store (store.ts) the worker is
// moving onto.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { InsufficientStorageError } from '../errors.ts';
import { LogSync } from './log-sync.ts';
import type {
  ClientBudget,
  Job,
  JobFilter,
  JobPage,
  PageRequest,
  ResourceLimits,
} from '../jobs/job.ts';
import type { JobStatus } from '../jobs/job-status.ts';
import { specPartOf } from '../jobs/job-spec.ts';
import {
  CLIENT_LOADS_SQL,
  EXPIRED_JOBS_SQL,
  JOBS_AT_POSITIONS_SQL,
  listQuery,
  QUEUE_HEADS_SQL,
  QUEUED_SQL,
  SLOT_SQL,
  sqlStatus,
  UNFINISHED_JOBS_SQL,
  type ClientLoadRow,
} from './job-queries.ts';
import { asRows, assignmentsOf, fromRow, recordCostOf, type JobRow } from './job-rows.ts';
import type { ClientLoad, JobUpdate, QueueHead } from './store.ts';

// Where the worker still finds them (it moves onto store.ts).
export type { ClientLoad, JobUpdate } from './store.ts';
export { recordCostOf } from './job-rows.ts';

export class JobStore {
  readonly #db: DatabaseSync;
  readonly #logSync: LogSync | undefined;
  readonly #insert: StatementSync;
  readonly #insertLabel: StatementSync;
  readonly #byId: StatementSync;
  readonly #atPositions: StatementSync;
  /** One prepared UPDATE per set of columns changed together: a job's few transitions reuse them. */
  readonly #updates = new Map<string, StatementSync>();
  readonly #unfinished: StatementSync;
  readonly #delete: StatementSync;
  readonly #endedBefore: StatementSync;
  readonly #countByStatus: StatementSync;
  readonly #countQueuedOf: StatementSync;
  readonly #queued: StatementSync;
  readonly #queueHeads: StatementSync;
  readonly #clientLoads: StatementSync;
  readonly #queuedBefore: StatementSync;
  readonly #countQueued: StatementSync;
  readonly #oldestQueuedAt: StatementSync;
  readonly #wasQueued: StatementSync;
  readonly #reservedMemory: StatementSync;
  readonly #outputOf: StatementSync;
  readonly #recordBytesOfOwner: StatementSync;
  /**
   * What the records of each client's jobs hold (recordCostOf), for the clients asked about since
   * the store was opened: summed by SQLite once per client (tens of ms at 100,000 jobs, too much
   * for every start), then kept in step by insert and delete, the only writes that change it.
   */
  readonly #recordBytes = new Map<string, number>();
  #seq: number;

  constructor(db: DatabaseSync) {
    this.#db = db;
    const path = db.location();
    this.#logSync = path === null ? undefined : new LogSync(path);
    this.#insert = db.prepare(
      `INSERT INTO jobs (id, owner, serial, spec, limits, client_totals, output_budget,
         output_cap, status, queued_at, created_at, seq, record_bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertLabel = db.prepare(
      'INSERT INTO job_labels (owner, key, value, seq) VALUES (?, ?, ?, ?)',
    );
    this.#byId = db.prepare('SELECT * FROM jobs WHERE id = ?');
    this.#atPositions = db.prepare(JOBS_AT_POSITIONS_SQL);
    this.#unfinished = db.prepare(UNFINISHED_JOBS_SQL);
    this.#delete = db.prepare(`DELETE FROM jobs WHERE id = ? RETURNING owner, record_bytes`);
    this.#endedBefore = db.prepare(EXPIRED_JOBS_SQL);
    this.#countQueuedOf = db.prepare(
      `SELECT COUNT(*) AS count FROM jobs WHERE owner = ? AND status = ${QUEUED_SQL}`,
    );
    this.#queued = db.prepare(
      `SELECT * FROM jobs INDEXED BY jobs_status_seq WHERE status = ${QUEUED_SQL} ORDER BY seq`,
    );
    this.#queueHeads = db.prepare(QUEUE_HEADS_SQL);
    this.#clientLoads = db.prepare(CLIENT_LOADS_SQL);
    this.#countQueued = db.prepare(
      `SELECT COUNT(*) AS count FROM jobs INDEXED BY jobs_status_seq WHERE status = ${QUEUED_SQL}`,
    );
    // The queue's head by the index, not a scan: metrics ask it at every scrape.
    this.#oldestQueuedAt = db.prepare(
      `SELECT queued_at FROM jobs INDEXED BY jobs_status_seq WHERE status = ${QUEUED_SQL}
         ORDER BY seq LIMIT 1`,
    );
    this.#wasQueued = db.prepare('SELECT queued_at IS NOT NULL AS queued FROM jobs WHERE id = ?');
    // Per client, what its jobs reserve is at most its own memory total (its cgroup's limit).
    this.#reservedMemory = db.prepare(
      `SELECT COALESCE(SUM(reserved), 0) AS bytes FROM (
         SELECT MIN(
           SUM(COALESCE(json_extract(limits, '$.memoryBytes'), ?)),
           COALESCE(MAX(json_extract(client_totals, '$.memoryBytes')), 9e18)) AS reserved
         FROM jobs INDEXED BY jobs_status_seq WHERE status IN (${SLOT_SQL}) GROUP BY owner)`,
    );
    this.#queuedBefore = db.prepare(
      `SELECT COUNT(*) AS count FROM jobs WHERE owner = ? AND status = ${QUEUED_SQL}
         AND seq < (SELECT seq FROM jobs WHERE id = ?)`,
    );
    this.#countByStatus = db.prepare('SELECT status, COUNT(*) AS count FROM jobs GROUP BY status');
    this.#outputOf = db.prepare('SELECT bytes FROM client_output WHERE owner = ?');
    this.#recordBytesOfOwner = db.prepare(
      'SELECT COALESCE(SUM(record_bytes), 0) AS bytes FROM jobs WHERE owner = ?',
    );
    const max = db.prepare('SELECT MAX(seq) AS seq FROM jobs').get() as { seq: number | null };
    this.#seq = max.seq ?? 0;
  }

  /**
   * Records a new job and its labels in one commit; its client's `budget` (totals and output) is
   * kept for a queued start. Before the job is promised to anyone, `sync()` puts it on the disk.
   */
  insert(job: Job, budget: ClientBudget = { totals: {} }): void {
    this.#seq += 1;
    const seq = this.#seq;
    const recordBytes = recordCostOf(job);
    writing(() =>
      this.#inTransaction(() => {
        this.#insert.run(
          job.id,
          job.owner,
          job.clientSerial,
          JSON.stringify(specPartOf(job)),
          JSON.stringify(job.limits),
          JSON.stringify(budget.totals),
          budget.outputBytes ?? null,
          job.outputCapBytes,
          job.status,
          job.status === 'queued' ? job.createdAt : null,
          job.createdAt,
          seq,
          recordBytes,
        );
        for (const [key, value] of Object.entries(job.labels)) {
          this.#insertLabel.run(job.owner, key, value, seq);
        }
      }),
    );
    this.#countRecordBytes(job.owner, recordBytes);
  }

  update(id: string, changes: JobUpdate): void {
    const { assignments, values } = assignmentsOf(changes);
    if (values.length === 0) return;
    const statement = this.#prepared(`UPDATE jobs SET ${assignments} WHERE id = ?`);
    writing(() => statement.run(...values, id));
  }

  /** Changes a job only while its status is `from`: whether it did (see Store.transition). */
  transition(id: string, from: JobStatus, changes: JobUpdate): boolean {
    const { assignments, values } = assignmentsOf(changes);
    if (values.length === 0) return this.get(id)?.status === from;
    const statement = this.#prepared(
      `UPDATE jobs SET ${assignments} WHERE id = ? AND status = ${sqlStatus(from)}`,
    );
    let changed = 0;
    writing(() => {
      changed = Number(statement.run(...values, id).changes);
    });
    return changed === 1;
  }

  #prepared(sql: string): StatementSync {
    const known = this.#updates.get(sql);
    if (known !== undefined) return known;
    const statement = this.#db.prepare(sql);
    this.#updates.set(sql, statement);
    return statement;
  }

  get(id: string): Job | undefined {
    const row = this.#byId.get(id) as JobRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /**
   * One page of the jobs `filter` selects, newest first: where they are, read from the indexes
   * alone. The jobs themselves are read a few at a time with atPositions(), as they are sent: a
   * page of a thousand jobs with long arguments is tens of megabytes.
   */
  list(filter: JobFilter, page: PageRequest): JobPage {
    const { sql, params } = listQuery(filter, page);
    const rows = this.#db.prepare(sql).all(...params) as { seq: number }[];
    const positions = rows.slice(0, page.limit).map((row) => row.seq);
    const last = positions.at(-1);
    return {
      positions,
      ...(rows.length > page.limit && last !== undefined ? { next: last } : {}),
    };
  }

  /** The jobs at these positions of a page, newest first; a job deleted since is left out. */
  atPositions(positions: readonly number[]): Job[] {
    return asRows(this.#atPositions.all(JSON.stringify(positions))).map(fromRow);
  }

  /** Jobs that hold a slot (launched, or being launched, and not ended), oldest first. */
  unfinished(): Job[] {
    const rows = asRows(this.#unfinished.all());
    return rows.sort((a, b) => a.seq - b.seq).map(fromRow);
  }

  /** Ids of up to `limit` jobs that ended before `isoTime`. */
  endedBefore(isoTime: string, limit: number): string[] {
    return (this.#endedBefore.all(isoTime, limit) as { id: string }[]).map((row) => row.id);
  }

  /**
   * Memory the jobs that hold a slot reserve: each its memory limit, or `defaultBytes` where it
   * has none; each client's at most its memory total. What /healthz reports; admission reads
   * the same per client from clientLoads.
   */
  reservedMemory(defaultBytes: number): number {
    return (this.#reservedMemory.get(defaultBytes) as { bytes: number }).bytes;
  }

  /** Queued jobs of one owner, or of all owners. */
  countQueued(owner?: string): number {
    const row = owner === undefined ? this.#countQueued.get() : this.#countQueuedOf.get(owner);
    return (row as { count: number }).count;
  }

  /** When the job at the head of the queue was queued; undefined while none is. */
  oldestQueuedAt(): Date | undefined {
    const row = this.#oldestQueuedAt.get() as { queued_at: string | null } | undefined;
    if (row === undefined || row.queued_at === null) return undefined;
    return new Date(row.queued_at);
  }

  /** Every queued job, oldest first. */
  queued(): Job[] {
    return asRows(this.#queued.all()).map(fromRow);
  }

  /** The oldest queued job of each client, with the budget its client had when it was queued. */
  queueHeads(): QueueHead[] {
    return asRows(this.#queueHeads.all()).map((row) => ({
      job: fromRow(row),
      budget: {
        totals: JSON.parse(row.client_totals) as ResourceLimits,
        ...(row.output_budget === null ? {} : { outputBytes: row.output_budget }),
      },
    }));
  }

  /**
   * What each client with jobs running or queued holds and wants, in one pass over the status
   * index: admission's snapshot. A running job reserves its memory limit, or `defaultBytes`
   * where it has none, and holds its output cap (a job without one, started with neither a
   * per-job cap nor a budget, holds none).
   */
  clientLoads(defaultBytes: number): Map<string, ClientLoad> {
    const rows = this.#clientLoads.all(defaultBytes) as unknown as ClientLoadRow[];
    return new Map(
      rows.map((row) => [
        row.owner,
        {
          running: row.running,
          reservedBytes: row.reserved,
          memoryTotalBytes: row.total ?? undefined,
          queued: row.queued,
          keptOutputBytes: row.kept,
          heldOutputBytes: row.held,
        },
      ]),
    );
  }

  /** Whether the job waited in the queue (a job started at once never did). */
  wasQueued(id: string): boolean {
    return (this.#wasQueued.get(id) as { queued: number } | undefined)?.queued === 1;
  }

  /** How many of its client's queued jobs start before this one, plus one. */
  queuePosition(job: Pick<Job, 'id' | 'owner'>): number {
    return (this.#queuedBefore.get(job.owner, job.id) as { count: number }).count + 1;
  }

  /**
   * Output recorded for an owner's jobs, their logs and their indexes (see storedOutputBytes); a
   * running job's counts once it has ended.
   */
  outputBytesOf(owner: string): number {
    const row = this.#outputOf.get(owner) as { bytes: number } | undefined;
    return row?.bytes ?? 0;
  }

  countByStatus(): Map<JobStatus, number> {
    const rows = this.#countByStatus.all() as { status: JobStatus; count: number }[];
    return new Map(rows.map((row) => [row.status, row.count]));
  }

  /** Resolves once every commit made so far survives a power loss (the server's crash loses none). */
  sync(): Promise<void> {
    return this.#logSync?.sync() ?? Promise.resolve();
  }

  async close(): Promise<void> {
    await this.#logSync?.close();
  }

  /** Before a client is told its job is gone, `sync()` puts the deletion on the disk. */
  delete(id: string): void {
    this.#forgetRecordBytes([this.#delete.get(id)]);
  }

  /** Deletes many jobs in one commit (not synced: retention deletes them again after a power loss). */
  deleteMany(ids: readonly string[]): void {
    const deleted: unknown[] = [];
    this.#inTransaction(() => {
      for (const id of ids) deleted.push(this.#delete.get(id));
    });
    this.#forgetRecordBytes(deleted);
  }

  /**
   * What the records of an owner's jobs hold: their command lines and environment variable names
   * as stored (recordCostOf), what `--client-record-bytes` allows.
   */
  recordBytesOf(owner: string): number {
    const known = this.#recordBytes.get(owner);
    if (known !== undefined) return known;
    const { bytes } = this.#recordBytesOfOwner.get(owner) as { bytes: number };
    this.#recordBytes.set(owner, bytes);
    return bytes;
  }

  /** Adds to an owner's known total; an owner not yet asked about is summed when first asked. */
  #countRecordBytes(owner: string, bytes: number): void {
    const known = this.#recordBytes.get(owner);
    if (known !== undefined) this.#recordBytes.set(owner, known + bytes);
  }

  /** Takes deleted rows (as `DELETE ... RETURNING` gave them) off their owners' totals. */
  #forgetRecordBytes(rows: readonly unknown[]): void {
    for (const row of rows as ({ owner: string; record_bytes: number } | undefined)[]) {
      if (row !== undefined) this.#countRecordBytes(row.owner, -row.record_bytes);
    }
  }

  /** Runs `work` in one commit, or as part of the caller's transaction when one is open. */
  #inTransaction(work: () => void): void {
    if (this.#db.isTransaction) {
      work();
      return;
    }
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      work();
      this.#db.exec('COMMIT');
    } catch (error) {
      // SQLite has already rolled back after some errors (a full disk among them).
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }
}

/** Runs a write; a full disk becomes the one error every caller of the store understands. */
function writing(write: () => unknown): void {
  try {
    write();
  } catch (error) {
    const { code, errcode } = error as { code?: string; errcode?: number };
    // SQLITE_FULL is 13; ENOSPC comes from the file system directly.
    if (code === 'ENOSPC' || errcode === 13) throw new InsufficientStorageError(error);
    throw error;
  }
}
