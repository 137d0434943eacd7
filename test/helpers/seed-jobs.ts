// Fills a server's store with ended jobs directly (not through the API), so that suites and the
// bench can have thousands of jobs in seconds. The jobs are what the server itself would have
// recorded for `echo` jobs that exited, with empty output files when `withOutput` is set.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/database.ts';
import { JobStore } from '../../src/store/job-store.ts';
import type { Job } from '../../src/jobs/job.ts';
import { OUTPUT_INDEX, OUTPUT_LOG } from '../../src/worker/output-stream.ts';

export interface SeedOptions {
  /** The server's DATA_DIR; its database is created when missing. */
  readonly dataDir: string;
  readonly owner: string;
  readonly count: number;
  /** Labels of the job with this index (0 is the oldest). */
  readonly labelsOf?: (index: number) => Record<string, string>;
  /** When each job ended, by index; default: a second after it was created, just now. */
  readonly endedAt?: (index: number) => Date;
  /** Creates each job's (empty) output directory too, as a real job leaves one. */
  readonly withOutput?: boolean;
  /** The arguments of every job; default `['seeded']`. */
  readonly args?: readonly string[];
}

/** Inserts the jobs oldest first, in one transaction; returns their ids in that order. */
export function seedEndedJobs(options: SeedOptions): string[] {
  const db = openDatabase(join(options.dataDir, 'jobworker.db'));
  const store = new JobStore(db);
  const ids: string[] = [];
  const now = Date.now();
  db.exec('BEGIN');
  try {
    for (let index = 0; index < options.count; index++) {
      const ended = options.endedAt?.(index) ?? new Date(now - (options.count - index) * 10);
      const job = {
        ...endedJob(options.owner, ended, options.labelsOf?.(index) ?? {}),
        ...(options.args === undefined ? {} : { args: options.args }),
      };
      // The store records a job as it is created, and its end as an update, as the server does.
      store.insert(job);
      const { status, exitCode, usage, startedAt, endedAt } = job;
      store.update(job.id, { status, exitCode, usage, startedAt, endedAt });
      ids.push(job.id);
      if (options.withOutput === true) {
        const dir = join(options.dataDir, 'jobs', job.id);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(join(dir, OUTPUT_LOG), '', { mode: 0o600 });
        writeFileSync(join(dir, OUTPUT_INDEX), '', { mode: 0o600 });
      }
    }
    db.exec('COMMIT');
  } finally {
    if (db.isTransaction) db.exec('ROLLBACK');
    db.close();
  }
  return ids;
}

function endedJob(owner: string, endedAt: Date, labels: Record<string, string>): Job {
  const createdAt = new Date(endedAt.getTime() - 1000).toISOString();
  return {
    id: randomUUID(),
    owner,
    clientSerial: null,
    command: 'echo',
    args: ['seeded'],
    tty: null,
    stdin: false,
    stderr: 'separate',
    volumes: [],
    envNames: [],
    cwd: '/work',
    limits: {},
    timeoutMs: null,
    sandbox: 'private',
    image: null,
    network: 'none',
    labels,
    queueTimeoutMs: null,
    queuePosition: null,
    queueReason: null,
    status: 'exited',
    exitCode: 0,
    signal: null,
    error: null,
    oomKilled: false,
    usage: { cpuMs: 1, peakMemoryBytes: 1 << 20 },
    outputBytes: 0,
    outputTruncated: false,
    outputCapBytes: null,
    createdAt,
    startedAt: createdAt,
    stopRequestedAt: null,
    endedAt: endedAt.toISOString(),
  };
}
