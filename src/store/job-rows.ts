// Rows of the jobs table to and from Job values: the row's shape as the schema (database.ts)
// makes it, and how each field of a job is kept in its column.
import type { SQLInputValue } from 'node:sqlite';
import type { Job, ResourceUsage } from '../jobs/job.ts';
import type { RecordedSpec } from '../jobs/job-spec.ts';
import type { JobStatus } from '../jobs/job-status.ts';
import type { JobUpdate } from './store.ts';

export interface JobRow {
  id: string;
  owner: string;
  serial: string | null;
  /** What the job asked for (RecordedSpec) as JSON: everything of its record from its request. */
  spec: string;
  limits: string;
  client_totals: string;
  output_budget: number | null;
  queued_at: string | null;
  record_bytes: number;
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
  seq: number;
}

/** The column of each field of a job that changes after it is created. */
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

/** node:sqlite types rows loosely; the schema in database.ts is what guarantees their shape. */
export function asRows(rows: unknown[]): JobRow[] {
  return rows as JobRow[];
}

/**
 * What a job's record costs its client's allowance: its command, arguments and environment
 * variable names as JSON, in bytes. The row keeps it (record_bytes), so deletes can take it off.
 */
export function recordCostOf(job: Pick<Job, 'command' | 'args' | 'envNames'>): number {
  return (
    Buffer.byteLength(job.command) +
    Buffer.byteLength(JSON.stringify(job.args)) +
    Buffer.byteLength(JSON.stringify(job.envNames))
  );
}

/**
 * The output_bytes column holds what a job's output holds on disk, its log and its index, so the
 * triggers that keep client_output (database.ts) count the index against its client's output
 * budget with no column of its own: a job of one-byte writes keeps four bytes of index for each
 * byte of log. The record's `outputBytes` is the log's share, `usage.outputIndexBytes` the
 * index's; the registry records them together, when the job ends.
 */
function storedOutputBytes(changes: JobUpdate): number {
  return (changes.outputBytes ?? 0) + (changes.usage?.outputIndexBytes ?? 0);
}

/** The SET list of an UPDATE of these changes (`a = ?, b = ?`) and its values, in order. */
export function assignmentsOf(changes: JobUpdate): {
  assignments: string;
  values: SQLInputValue[];
} {
  const entries = Object.entries(changes) as [keyof JobUpdate, JobUpdate[keyof JobUpdate]][];
  return {
    assignments: entries.map(([key]) => `${COLUMN_OF[key]} = ?`).join(', '),
    values: entries.map(([key, value]) =>
      key === 'outputBytes' ? storedOutputBytes(changes) : toColumnValue(value),
    ),
  };
}

/** A changed field as its column keeps it: booleans as 0 or 1, objects as JSON. */
function toColumnValue(value: JobUpdate[keyof JobUpdate]): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

/** A job as the row keeps it. */
export function fromRow(row: JobRow): Job {
  const usage = row.usage === null ? null : (JSON.parse(row.usage) as ResourceUsage);
  return {
    id: row.id,
    owner: row.owner,
    clientSerial: row.serial,
    ...(JSON.parse(row.spec) as RecordedSpec),
    queuePosition: null,
    queueReason: null,
    status: row.status as JobStatus,
    exitCode: row.exit_code,
    signal: row.signal,
    error: row.error,
    oomKilled: row.oom_killed === 1,
    usage,
    outputBytes: row.output_bytes - (usage?.outputIndexBytes ?? 0),
    outputTruncated: row.output_truncated === 1,
    outputCapBytes: row.output_cap,
    createdAt: row.created_at,
    startedAt: row.started_at,
    stopRequestedAt: row.stop_requested_at,
    endedAt: row.ended_at,
  };
}
