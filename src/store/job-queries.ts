// The SQL of the job store's questions: the statements that read the jobs table through its
// indexes, and listQuery, which builds a listing's SELECT. Kept apart from the store so tests can
// ask SQLite how it plans each (test/store/list-plans.test.ts).
import type { SQLInputValue } from 'node:sqlite';
import type { JobFilter, PageRequest } from '../jobs/job.ts';
import { SLOT_STATUSES, type JobStatus } from '../jobs/job-status.ts';

/** A statement and its parameters: how list() asks, shown to tests with EXPLAIN QUERY PLAN. */
export interface Query {
  readonly sql: string;
  readonly params: readonly SQLInputValue[];
}

/** A status as an SQL literal: typed, so the SQL cannot name a status there is not. */
export function sqlStatus(status: JobStatus): string {
  return `'${status}'`;
}

export const QUEUED_SQL = sqlStatus('queued');
export const SLOT_SQL = SLOT_STATUSES.map(sqlStatus).join(', ');

/**
 * The jobs that hold a slot (launched and not ended): a handful among 100,000 ended jobs, read
 * through the status index whatever the planner's statistics say (ended jobs dominate, so it
 * would rather walk every row).
 */
export const UNFINISHED_JOBS_SQL = `SELECT * FROM jobs INDEXED BY jobs_status_seq
  WHERE status IN (${SLOT_SQL})`;

/**
 * Per client with jobs running or queued: its running jobs, the memory they reserve (the first
 * parameter for a job without a limit), the memory total they were given, the output caps they
 * hold; its queued jobs; the output its ended jobs keep.
 */
export const CLIENT_LOADS_SQL = `SELECT jobs.owner AS owner,
    SUM(status <> ${QUEUED_SQL}) AS running,
    COALESCE(SUM(CASE WHEN status <> ${QUEUED_SQL}
      THEN COALESCE(json_extract(limits, '$.memoryBytes'), ?) END), 0) AS reserved,
    MAX(CASE WHEN status <> ${QUEUED_SQL} THEN json_extract(client_totals, '$.memoryBytes') END)
      AS total,
    COALESCE(SUM(CASE WHEN status <> ${QUEUED_SQL} THEN output_cap END), 0) AS held,
    SUM(status = ${QUEUED_SQL}) AS queued,
    COALESCE((SELECT bytes FROM client_output WHERE client_output.owner = jobs.owner), 0) AS kept
  FROM jobs INDEXED BY jobs_status_seq WHERE status IN (${SLOT_SQL}, ${QUEUED_SQL})
  GROUP BY jobs.owner`;

export interface ClientLoadRow {
  owner: string;
  running: number;
  reserved: number;
  total: number | null;
  held: number;
  queued: number;
  kept: number;
}

/** The oldest queued job of each client that has one. */
export const QUEUE_HEADS_SQL = `SELECT * FROM jobs WHERE seq IN (
  SELECT MIN(seq) FROM jobs INDEXED BY jobs_status_seq WHERE status = ${QUEUED_SQL} GROUP BY owner)`;

/** The jobs at the positions of a page (a JSON array of seqs), newest first. */
export const JOBS_AT_POSITIONS_SQL =
  'SELECT * FROM jobs WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq DESC';

/** Up to a batch (the second parameter) of jobs that ended before a time (the first). */
export const EXPIRED_JOBS_SQL =
  'SELECT id FROM jobs WHERE ended_at IS NOT NULL AND ended_at < ? LIMIT ?';

/**
 * The SELECT behind list(): every condition in SQL, newest first by seq (the order jobs were
 * created in), one row more than the page so the caller knows whether there is a next page, and
 * only the seq of each (most listings read it from an index alone).
 * Keyset paging (seq below the last one shown) returns every job that exists throughout a paging
 * exactly once, however many are added or deleted between pages.
 */
export function listQuery(filter: JobFilter, page: PageRequest): Query {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  if (filter.owner !== undefined) {
    where.push('owner = ?');
    params.push(filter.owner);
  }
  if (filter.statuses !== undefined && filter.statuses.length > 0) {
    where.push(`status IN (${filter.statuses.map(() => '?').join(', ')})`);
    params.push(...filter.statuses);
  }
  if (filter.createdSince !== undefined) {
    where.push('created_at >= ?');
    params.push(filter.createdSince.toISOString());
  }
  if (filter.createdUntil !== undefined) {
    where.push('created_at < ?');
    params.push(filter.createdUntil.toISOString());
  }
  if (filter.idPrefix !== undefined) {
    // Ids are lower-case hex and '-', all of which sort before '~'.
    where.push('id >= ? AND id < ?');
    params.push(filter.idPrefix, `${filter.idPrefix}~`);
  }
  for (const [key, value] of Object.entries(filter.labels ?? {})) {
    if (filter.owner === undefined) {
      where.push('seq IN (SELECT seq FROM job_labels WHERE key = ? AND value = ?)');
      params.push(key, value);
    } else {
      where.push('seq IN (SELECT seq FROM job_labels WHERE owner = ? AND key = ? AND value = ?)');
      params.push(filter.owner, key, value);
    }
  }
  if (page.after !== undefined) {
    where.push('seq < ?');
    params.push(page.after);
  }
  const condition = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
  params.push(page.limit + 1);
  return { sql: `SELECT seq FROM jobs ${condition} ORDER BY seq DESC LIMIT ?`, params };
}
