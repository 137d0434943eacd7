// The migration to one `spec` column: jobs an earlier release recorded, field by field in columns
// of their own, read back the same from the migrated database, and their records cost their
// clients what they cost before (--client-record-bytes).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import type { ClientBudget, Job } from '../../src/jobs/job.ts';
import { migrate, openDatabase } from '../../src/store/database.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { jobOf } from './store-contract.ts';

/**
 * The schema before the spec column (migration 10; later ones add to it), and the INSERT its
 * store made a job with.
 */
const SPEC_COLUMNS_VERSION = 9;
const INSERT_BY_COLUMNS = `INSERT INTO jobs (id, owner, command, args, env_names, cwd, limits,
    timeout_ms, sandbox, image, labels, queue_timeout_ms, client_totals, output_cap, status,
    queued_at, created_at, seq, stdin, tty, serial, output_budget, stderr_merged)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const LABEL = 'INSERT INTO job_labels (owner, key, value, seq) VALUES (?, ?, ?, ?)';
const END = `UPDATE jobs SET status = ?, exit_code = ?, usage = ?, output_bytes = ?,
    started_at = ?, ended_at = ? WHERE id = ?`;

/** Records a job as the store of schema SPEC_COLUMNS_VERSION did. */
function insertByColumns(db: DatabaseSync, job: Job, seq: number, budget: ClientBudget): void {
  db.prepare(INSERT_BY_COLUMNS).run(
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
    JSON.stringify(job.labels),
    job.queueTimeoutMs,
    JSON.stringify(budget.totals),
    job.outputCapBytes,
    job.status,
    job.status === 'queued' ? job.createdAt : null,
    job.createdAt,
    seq,
    job.stdin ? 1 : 0,
    job.tty === null ? null : JSON.stringify(job.tty),
    job.clientSerial,
    budget.outputBytes ?? null,
    job.stderr === 'merged' ? 1 : 0,
  );
  for (const [key, value] of Object.entries(job.labels))
    db.prepare(LABEL).run(job.owner, key, value, seq);
}

describe('migrating jobs recorded in columns to one spec column', () => {
  let dir: string;
  let store: SqliteStore;
  let db: DatabaseSync;
  const budget: ClientBudget = { totals: { memoryBytes: 1 << 30 }, outputBytes: 1 << 20 };
  const queued = jobOf('alice', 1, {
    status: 'queued',
    tty: { rows: 30, cols: 100 },
    stdin: true,
    stderr: 'merged',
    queueTimeoutMs: 5000,
    args: ['-c', 'printf "\\u0001 naïve"', '\u2028'],
  });
  const onHost = jobOf('bob', 2, {
    sandbox: 'host',
    cwd: '/',
    timeoutMs: null,
    clientSerial: null,
    limits: {},
    labels: {},
    envNames: [],
  });
  const inImage = jobOf('alice', 3, { image: 'debian', labels: { team: 'web', pipeline: '7' } });
  const ended = {
    status: 'exited',
    exitCode: 0,
    usage: { cpuMs: 5, peakMemoryBytes: 4096, outputIndexBytes: 8 },
    outputBytes: 100,
    startedAt: inImage.createdAt,
    endedAt: new Date(Date.UTC(2026, 0, 2)).toISOString(),
  } as const;
  let recordBytesBefore: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jobworker-spec-migration-'));
    const path = join(dir, 'jobworker.db');
    const old = new DatabaseSync(path);
    migrate(old, SPEC_COLUMNS_VERSION);
    insertByColumns(old, queued, 1, budget);
    insertByColumns(old, onHost, 2, { totals: {} });
    insertByColumns(old, inImage, 3, { totals: {} });
    const { status, exitCode, usage, startedAt, endedAt } = ended;
    old
      .prepare(END)
      .run(status, exitCode, JSON.stringify(usage), 108, startedAt, endedAt, inImage.id);
    recordBytesBefore = (
      old
        .prepare(
          `SELECT SUM(octet_length(command) + octet_length(args) + octet_length(env_names)) AS bytes
             FROM jobs WHERE owner = 'alice'`,
        )
        .get() as { bytes: number }
    ).bytes;
    old.close();
    db = openDatabase(path);
    store = new SqliteStore(db);
  });
  after(async () => {
    await store.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads every job back as it was recorded, its end included', async () => {
    assert.deepEqual(await store.get(queued.id), queued);
    assert.deepEqual(await store.get(onHost.id), onHost);
    assert.deepEqual(await store.get(inImage.id), { ...inImage, ...ended });
  });

  it('keeps the queue, its budgets, the labels and the record costs', async () => {
    assert.deepEqual(await store.queueHeads(), [{ job: queued, budget }]);
    const page = await store.list({ owner: 'alice', labels: { team: 'web' } }, { limit: 10 });
    assert.deepEqual(
      (await store.atPositions(page.positions)).map((job) => job.id),
      [inImage.id],
    );
    assert.equal(await store.recordBytesOf('alice'), recordBytesBefore);
    assert.equal(await store.outputBytesOf('alice'), 108);
  });

  it('keeps its triggers: a deleted job takes its labels and its output with it', async () => {
    await store.delete(inImage.id);
    assert.equal(await store.outputBytesOf('alice'), 0);
    const page = await store.list({ labels: { team: 'web' } }, { limit: 10 });
    assert.deepEqual(page.positions, []);
    const labelRows = db.prepare('SELECT COUNT(*) AS count FROM job_labels').get() as {
      count: number;
    };
    assert.equal(labelRows.count, Object.keys(queued.labels).length);
  });

  it("keeps no column of a job's spec but the ones queries read", () => {
    const columns = (db.prepare('PRAGMA table_info(jobs)').all() as { name: string }[]).map(
      (column) => column.name,
    );
    for (const gone of ['command', 'args', 'env_names', 'cwd', 'tty', 'stdin', 'labels']) {
      assert.equal(columns.includes(gone), false, gone);
    }
    assert.ok(columns.includes('spec') && columns.includes('limits'));
  });
});
