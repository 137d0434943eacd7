// The embedded database (node:sqlite) and its forward-only migrations. WAL with synchronous=NORMAL:
// a commit is in the log when the call returns, so a crash of the server loses nothing (the kernel
// keeps its writes), and a power loss can lose only the last commits, never corrupt the database.
// The commits that answer a promise to a client (a job created, a job deleted) are synced before
// the answer (JobStore.sync, on the thread pool); the rare ones outside the job store are made
// `durably`. Either fsync of the log also makes every commit before it durable. A job's start and
// end need none of their own: the supervisor's files say how it went, and a restart reads them.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { dirname } from 'node:path';

/**
 * The triggers that keep client_output in step with jobs, whoever writes: made with the table
 * (migration 3), and made again when migration 10 builds the jobs table anew.
 */
const OUTPUT_COUNT_TRIGGERS = `CREATE TRIGGER jobs_count_output_insert AFTER INSERT ON jobs
   BEGIN
     INSERT INTO client_output (owner, bytes) VALUES (NEW.owner, NEW.output_bytes)
       ON CONFLICT (owner) DO UPDATE SET bytes = bytes + NEW.output_bytes;
   END;
   CREATE TRIGGER jobs_count_output_update AFTER UPDATE OF output_bytes ON jobs
   BEGIN
     UPDATE client_output SET bytes = bytes - OLD.output_bytes + NEW.output_bytes
       WHERE owner = NEW.owner;
   END;
   CREATE TRIGGER jobs_count_output_delete AFTER DELETE ON jobs
   BEGIN
     UPDATE client_output SET bytes = bytes - OLD.output_bytes WHERE owner = OLD.owner;
   END;`;

/** Each entry moves the schema from version `index` to `index + 1`; never edit a shipped one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     command TEXT NOT NULL,
     args TEXT NOT NULL,
     env_names TEXT NOT NULL,
     cwd TEXT NOT NULL,
     limits TEXT NOT NULL,
     timeout_ms INTEGER,
     status TEXT NOT NULL,
     exit_code INTEGER,
     signal TEXT,
     error TEXT,
     oom_killed INTEGER NOT NULL DEFAULT 0,
     usage TEXT,
     output_bytes INTEGER NOT NULL DEFAULT 0,
     output_truncated INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL,
     started_at TEXT,
     stop_requested_at TEXT,
     ended_at TEXT,
     seq INTEGER NOT NULL
   );
   CREATE INDEX jobs_owner_seq ON jobs (owner, seq DESC);
   CREATE INDEX jobs_seq ON jobs (seq DESC);`,
  // Jobs recorded before the sandbox existed ran on the host's filesystem.
  `ALTER TABLE jobs ADD COLUMN sandbox TEXT NOT NULL DEFAULT 'host';
   ALTER TABLE jobs ADD COLUMN image TEXT;
   ALTER TABLE jobs ADD COLUMN output_cap INTEGER;
   CREATE TABLE client_accounts (
     client TEXT PRIMARY KEY,
     uid INTEGER NOT NULL UNIQUE
   );`,
  // Labels, pages and 100,000 jobs: every listing is one index range read in seq order.
  // job_labels repeats the owner so a client's label filter never reads other clients' rows;
  // client_output keeps each client's output total for its budget, which was a sum over all of
  // its jobs at every start. Triggers keep both in step with jobs, whoever writes.
  `ALTER TABLE jobs ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
   CREATE UNIQUE INDEX jobs_seq_unique ON jobs (seq);
   DROP INDEX jobs_seq;
   CREATE INDEX jobs_owner_status_seq ON jobs (owner, status, seq);
   CREATE INDEX jobs_status_seq ON jobs (status, seq);
   CREATE INDEX jobs_ended_at ON jobs (ended_at) WHERE ended_at IS NOT NULL;
   CREATE TABLE job_labels (
     owner TEXT NOT NULL,
     key TEXT NOT NULL,
     value TEXT NOT NULL,
     seq INTEGER NOT NULL,
     PRIMARY KEY (owner, key, value, seq)
   ) WITHOUT ROWID;
   CREATE INDEX job_labels_any_owner ON job_labels (key, value, seq);
   CREATE INDEX job_labels_seq ON job_labels (seq);
   CREATE TRIGGER jobs_forget_labels AFTER DELETE ON jobs
   BEGIN DELETE FROM job_labels WHERE seq = OLD.seq; END;
   CREATE TABLE client_output (
     owner TEXT PRIMARY KEY,
     bytes INTEGER NOT NULL
   );
   INSERT INTO client_output (owner, bytes)
     SELECT owner, SUM(output_bytes) FROM jobs GROUP BY owner;
   ${OUTPUT_COUNT_TRIGGERS}
   CREATE TABLE server_secrets (
     name TEXT PRIMARY KEY,
     value BLOB NOT NULL
   );`,
  // The durable queue: a queued job is a row in status 'queued', in seq order. What it needs to
  // start later that a job record did not keep: its client's totals when it was accepted.
  `ALTER TABLE jobs ADD COLUMN queue_timeout_ms INTEGER;
   ALTER TABLE jobs ADD COLUMN client_totals TEXT NOT NULL DEFAULT '{}';
   ALTER TABLE jobs ADD COLUMN queued_at TEXT;`,
  // Input: whether the job's stdin is a stream clients write to (PUT /v1/jobs/{id}/stdin).
  `ALTER TABLE jobs ADD COLUMN stdin INTEGER NOT NULL DEFAULT 0;`,
  // Terminals: the size a job's terminal started with (JSON), null for a job without one.
  `ALTER TABLE jobs ADD COLUMN tty TEXT;`,
  // The serial of the client certificate that started a job (normalised hex): its revocation ends
  // the job. Null for jobs recorded before it was kept, which no revocation can then reach.
  `ALTER TABLE jobs ADD COLUMN serial TEXT;`,
  // The output budget of a job's client when it was accepted (null: none): a queued job's output
  // cap is worked out from it when it launches, beside its client's totals.
  `ALTER TABLE jobs ADD COLUMN output_budget INTEGER;`,
  // Whether a job's stderr went down its stdout pipe ("stderr": "merged"), one stream in order.
  `ALTER TABLE jobs ADD COLUMN stderr_merged INTEGER NOT NULL DEFAULT 0;`,
  // A job field in few places (issue 32): what a job asked for is one JSON document, `spec` (the
  // record's fields from `command` to `stderr`, jobs/job-spec.ts), beside the columns queries
  // read: `limits` (memory reservations) and `record_bytes`, what the record costs its client
  // (recordCostOf, summed for --client-record-bytes). A field a job gains needs no column; the
  // spec's columns go, so a job's arguments are not kept twice. The table is built anew and
  // filled in one pass (dropping twelve columns rewrote it twelve times: 13 s for 100,000 jobs
  // on a busy host of 2 cores, 6 s so);
  // its triggers go first, so dropping the old table deletes no labels and counts no output.
  `DROP TRIGGER jobs_forget_labels;
   DROP TRIGGER jobs_count_output_insert;
   DROP TRIGGER jobs_count_output_update;
   DROP TRIGGER jobs_count_output_delete;
   CREATE TABLE jobs_by_spec (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     serial TEXT,
     spec TEXT NOT NULL,
     limits TEXT NOT NULL,
     client_totals TEXT NOT NULL DEFAULT '{}',
     output_budget INTEGER,
     queued_at TEXT,
     record_bytes INTEGER NOT NULL,
     status TEXT NOT NULL,
     exit_code INTEGER,
     signal TEXT,
     error TEXT,
     oom_killed INTEGER NOT NULL DEFAULT 0,
     usage TEXT,
     output_bytes INTEGER NOT NULL DEFAULT 0,
     output_truncated INTEGER NOT NULL DEFAULT 0,
     output_cap INTEGER,
     created_at TEXT NOT NULL,
     started_at TEXT,
     stop_requested_at TEXT,
     ended_at TEXT,
     seq INTEGER NOT NULL
   );
   INSERT INTO jobs_by_spec (id, owner, serial, spec, limits, client_totals, output_budget,
       queued_at, record_bytes, status, exit_code, signal, error, oom_killed, usage, output_bytes,
       output_truncated, output_cap, created_at, started_at, stop_requested_at, ended_at, seq)
     SELECT id, owner, serial,
       json_object(
         'command', command,
         'args', json(args),
         'envNames', json(env_names),
         'cwd', cwd,
         'limits', json(limits),
         'timeoutMs', timeout_ms,
         'sandbox', sandbox,
         'image', image,
         'labels', json(labels),
         'queueTimeoutMs', queue_timeout_ms,
         'tty', json(tty),
         'stdin', json(CASE stdin WHEN 1 THEN 'true' ELSE 'false' END),
         'stderr', CASE stderr_merged WHEN 1 THEN 'merged' ELSE 'separate' END),
       limits, client_totals, output_budget, queued_at,
       octet_length(command) + octet_length(args) + octet_length(env_names),
       status, exit_code, signal, error, oom_killed, usage, output_bytes, output_truncated,
       output_cap, created_at, started_at, stop_requested_at, ended_at, seq
     FROM jobs;
   DROP TABLE jobs;
   ALTER TABLE jobs_by_spec RENAME TO jobs;
   CREATE INDEX jobs_owner_seq ON jobs (owner, seq DESC);
   CREATE UNIQUE INDEX jobs_seq_unique ON jobs (seq);
   CREATE INDEX jobs_owner_status_seq ON jobs (owner, status, seq);
   CREATE INDEX jobs_status_seq ON jobs (status, seq);
   CREATE INDEX jobs_ended_at ON jobs (ended_at) WHERE ended_at IS NOT NULL;
   CREATE TRIGGER jobs_forget_labels AFTER DELETE ON jobs
   BEGIN DELETE FROM job_labels WHERE seq = OLD.seq; END;
   ${OUTPUT_COUNT_TRIGGERS}`,
  // Volumes (issue 34): the jobs recorded before them mounted none.
  `UPDATE jobs SET spec = json_set(spec, '$.volumes', json('[]'));`,
  // Volumes (issue 34): a client's named filesystems, each an image under the data dir named by
  // its id. `state` is `creating` until its image is made and mounted, `removing` once its
  // removal began: a start after a crash finishes either (src/volumes/volume-manager.ts).
  `CREATE TABLE volumes (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     client TEXT NOT NULL,
     name TEXT NOT NULL,
     size_bytes INTEGER NOT NULL,
     state TEXT NOT NULL,
     created_at TEXT NOT NULL,
     UNIQUE (client, name)
   );`,
  // A job's network (issue 33): the jobs recorded before it had their own loopback only (the
  // server-wide --host-network aside, which no record kept).
  `UPDATE jobs SET spec = json_set(spec, '$.network', 'none');`,
];

export class SchemaTooNewError extends Error {
  readonly code = 'SCHEMA_TOO_NEW';
  constructor(found: number, known: number) {
    super(
      `database schema version ${found} is newer than this server knows (${known}); upgrade the server`,
    );
    this.name = 'SchemaTooNewError';
  }
}

export function openDatabase(path: string): DatabaseSync {
  // Jobs' command lines and output live here: nobody but the server may read them, also when
  // the directory or the database already existed with looser modes.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  const db = new DatabaseSync(path);
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
  // SQLite creates the -wal and -shm files with the database file's mode: 0600 from here on.
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 5000');
  migrate(db);
  return db;
}

/**
 * Runs `work`, whose commits must survive a power loss before the caller answers anyone: with
 * synchronous=FULL, SQLite fsyncs the log at each commit. Pragmas cannot change inside a
 * transaction, so a caller already in one gets the setting of the transaction's commit.
 */
export function durably<T>(db: DatabaseSync, work: () => T): T {
  if (db.isTransaction) return work();
  db.exec('PRAGMA synchronous = FULL');
  try {
    return work();
  } finally {
    db.exec('PRAGMA synchronous = NORMAL');
  }
}

export function schemaVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings a database's schema up to `target` (the latest unless told: an older one only makes a
 * database as an earlier release left it, for the tests of a migration).
 */
export function migrate(db: DatabaseSync, target = MIGRATIONS.length): void {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) throw new SchemaTooNewError(current, MIGRATIONS.length);
  for (let version = current; version < target; version += 1) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[version] ?? '');
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw new Error(`migrate database to schema version ${version + 1}`, { cause: error });
    }
  }
}
