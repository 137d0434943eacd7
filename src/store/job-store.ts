// Rows of the jobs table to and from Job values. The only module that writes SQL for jobs.
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { InsufficientStorageError } from '../errors.ts';
import type { Job, JobStatus, ResourceLimits, ResourceUsage, SandboxMode } from '../worker/job.ts';

interface JobRow {
  id: string;
  owner: string;
  command: string;
  args: string;
  env_names: string;
  cwd: string;
  limits: string;
  timeout_ms: number | null;
  sandbox: string;
  image: string | null;
  status: string;
  exit_code: number | null;
  signal: string | null;
  error: string | null;
  oom_killed: number;
  usage: string | null;
  output_bytes: number;
  output_truncated: number;
  output_cap: number | null;
  created_at: string;
  started_at: string | null;
  stop_requested_at: string | null;
  ended_at: string | null;
}

/** The fields of a job that change after it is created. */
export type JobUpdate = Partial<
  Pick<
    Job,
    | 'status'
    | 'exitCode'
    | 'signal'
    | 'error'
    | 'oomKilled'
    | 'usage'
    | 'outputBytes'
    | 'outputTruncated'
    | 'outputCapBytes'
    | 'startedAt'
    | 'stopRequestedAt'
    | 'endedAt'
  >
>;

const COLUMN_OF: Readonly<Record<keyof JobUpdate, string>> = {
  status: 'status',
  exitCode: 'exit_code',
  signal: 'signal',
  error: 'error',
  oomKilled: 'oom_killed',
  usage: 'usage',
  outputBytes: 'output_bytes',
  outputTruncated: 'output_truncated',
  outputCapBytes: 'output_cap',
  startedAt: 'started_at',
  stopRequestedAt: 'stop_requested_at',
  endedAt: 'ended_at',
};

export class JobStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #byId: StatementSync;
  readonly #all: StatementSync;
  readonly #byOwner: StatementSync;
  readonly #unfinished: StatementSync;
  readonly #delete: StatementSync;
  readonly #endedBefore: StatementSync;
  readonly #countByStatus: StatementSync;
  readonly #countUnfinishedOf: StatementSync;
  readonly #outputOf: StatementSync;
  #seq: number;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO jobs (id, owner, command, args, env_names, cwd, limits, timeout_ms, sandbox,
         image, output_cap, status, created_at, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#byId = db.prepare('SELECT * FROM jobs WHERE id = ?');
    this.#all = db.prepare('SELECT * FROM jobs ORDER BY seq DESC');
    this.#byOwner = db.prepare('SELECT * FROM jobs WHERE owner = ? ORDER BY seq DESC');
    this.#unfinished = db.prepare(
      `SELECT * FROM jobs WHERE status IN ('starting', 'running', 'stopping') ORDER BY seq`,
    );
    this.#delete = db.prepare('DELETE FROM jobs WHERE id = ?');
    this.#endedBefore = db.prepare(
      `SELECT * FROM jobs WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY seq`,
    );
    this.#countUnfinishedOf = db.prepare(
      `SELECT COUNT(*) AS count FROM jobs
       WHERE owner = ? AND status IN ('starting', 'running', 'stopping')`,
    );
    this.#countByStatus = db.prepare('SELECT status, COUNT(*) AS count FROM jobs GROUP BY status');
    this.#outputOf = db.prepare(
      'SELECT COALESCE(SUM(output_bytes), 0) AS bytes FROM jobs WHERE owner = ?',
    );
    const max = db.prepare('SELECT MAX(seq) AS seq FROM jobs').get() as { seq: number | null };
    this.#seq = max.seq ?? 0;
  }

  insert(job: Job): void {
    this.#seq += 1;
    writing(() =>
      this.#insert.run(
        job.id,
        job.owner,
        job.command,
        JSON.stringify(job.args),
        JSON.stringify(job.envNames),
        job.cwd,
        JSON.stringify(job.limits),
        job.timeoutMs,
        job.sandbox,
        job.image,
        job.outputCapBytes,
        job.status,
        job.createdAt,
        this.#seq,
      ),
    );
  }

  update(id: string, changes: JobUpdate): void {
    const entries = Object.entries(changes) as [keyof JobUpdate, JobUpdate[keyof JobUpdate]][];
    if (entries.length === 0) return;
    const assignments = entries.map(([key]) => `${COLUMN_OF[key]} = ?`).join(', ');
    const values = entries.map(([, value]) => toColumnValue(value));
    writing(() =>
      this.#db.prepare(`UPDATE jobs SET ${assignments} WHERE id = ?`).run(...values, id),
    );
  }

  get(id: string): Job | undefined {
    const row = this.#byId.get(id) as JobRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  list(owner?: string): Job[] {
    return asRows(owner === undefined ? this.#all.all() : this.#byOwner.all(owner)).map(fromRow);
  }

  unfinished(): Job[] {
    return asRows(this.#unfinished.all()).map(fromRow);
  }

  endedBefore(isoTime: string): Job[] {
    return asRows(this.#endedBefore.all(isoTime)).map(fromRow);
  }

  /** Jobs of one owner that have not ended yet. */
  countUnfinished(owner: string): number {
    return (this.#countUnfinishedOf.get(owner) as { count: number }).count;
  }

  /** Output recorded for an owner's jobs (a running job's counts once it has ended). */
  outputBytesOf(owner: string): number {
    return (this.#outputOf.get(owner) as { bytes: number }).bytes;
  }

  countByStatus(): Map<JobStatus, number> {
    const rows = this.#countByStatus.all() as { status: JobStatus; count: number }[];
    return new Map(rows.map((row) => [row.status, row.count]));
  }

  delete(id: string): void {
    this.#delete.run(id);
  }
}

/** node:sqlite types rows loosely; the schema in database.ts is what guarantees their shape. */
function asRows(rows: unknown[]): JobRow[] {
  return rows as JobRow[];
}

function toColumnValue(value: JobUpdate[keyof JobUpdate]): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

function fromRow(row: JobRow): Job {
  return {
    id: row.id,
    owner: row.owner,
    command: row.command,
    args: JSON.parse(row.args) as string[],
    envNames: JSON.parse(row.env_names) as string[],
    cwd: row.cwd,
    limits: JSON.parse(row.limits) as ResourceLimits,
    timeoutMs: row.timeout_ms,
    sandbox: row.sandbox as SandboxMode,
    image: row.image,
    status: row.status as JobStatus,
    exitCode: row.exit_code,
    signal: row.signal,
    error: row.error,
    oomKilled: row.oom_killed === 1,
    usage: row.usage === null ? null : (JSON.parse(row.usage) as ResourceUsage),
    outputBytes: row.output_bytes,
    outputTruncated: row.output_truncated === 1,
    outputCapBytes: row.output_cap,
    createdAt: row.created_at,
    startedAt: row.started_at,
    stopRequestedAt: row.stop_requested_at,
    endedAt: row.ended_at,
  };
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
