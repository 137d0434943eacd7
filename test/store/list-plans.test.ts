// Every listing the API can ask for is read through an index, in the order it is returned: no
// scan of the jobs table and no sort of it, whatever the filters. SQLite's own EXPLAIN QUERY PLAN
// of the store's statements, on a store of 20,000 jobs of several clients with labels.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/store/database.ts';
import {
  EXPIRED_JOBS_SQL,
  JOBS_AT_POSITIONS_SQL,
  listQuery,
  UNFINISHED_JOBS_SQL,
} from '../../src/store/job-queries.ts';
import type { JobFilter, PageRequest } from '../../src/jobs/job.ts';
import { seedEndedJobs } from '../helpers/seed-jobs.ts';

describe('the query plans of job listings', () => {
  let dir: string;
  let db: DatabaseSync;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jobworker-plans-'));
    for (const owner of ['alice', 'bob', 'carol', 'dave']) {
      seedEndedJobs({
        dataDir: dir,
        owner,
        count: 5000,
        labelsOf: (index) => ({ pipeline: String(index % 100), stage: String(index % 3) }),
      });
    }
    db = openDatabase(join(dir, 'jobworker.db'));
    // Statistics as a long-lived store would have them, so the planner is not flying blind.
    db.exec('ANALYZE');
  });
  after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  function planOf(filter: JobFilter, page: PageRequest): string[] {
    const { sql, params } = listQuery(filter, page);
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
    return rows.map((row) => row.detail);
  }

  const since = new Date(Date.now() - 60_000);
  const cases: readonly [string, JobFilter][] = [
    ["a client's jobs", { owner: 'alice' }],
    ["everyone's jobs (admins)", {}],
    ["a client's running jobs", { owner: 'alice', statuses: ['running'] }],
    ["a client's jobs of two statuses", { owner: 'alice', statuses: ['exited', 'failed'] }],
    ["a client's jobs with a label", { owner: 'alice', labels: { pipeline: '42' } }],
    ["a client's jobs with two labels", { owner: 'alice', labels: { pipeline: '42', stage: '1' } }],
    ["everyone's jobs with a label", { labels: { pipeline: '42' } }],
    ["a client's jobs created since", { owner: 'alice', createdSince: since }],
    ["a client's jobs by id prefix", { owner: 'alice', idPrefix: '3f' }],
  ];

  for (const [what, filter] of cases) {
    for (const page of [{ limit: 100 }, { limit: 100, after: 12_345 }]) {
      it(`reads ${what} through an index, in order${page.after ? ', from a cursor' : ''}`, () => {
        const plan = planOf(filter, page);
        const text = plan.join('\n');
        // Every step on jobs is an index search; a SCAN is allowed only along an index.
        for (const step of plan.filter((line) => /\bjobs\b/.test(line))) {
          assert.match(step, /USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/, text);
        }
        if (filter.idPrefix === undefined) assert.doesNotMatch(text, /TEMP B-TREE/, text);
      });
    }
  }

  it("reads a page's jobs, a batch of positions at a time, through the seq index", () => {
    const positions = JSON.stringify(Array.from({ length: 25 }, (_, i) => 12_345 - i));
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${JOBS_AT_POSITIONS_SQL}`).all(positions) as {
      detail: string;
    }[];
    const steps = rows.map((row) => row.detail).filter((line) => /\bjobs\b/.test(line));
    assert.ok(steps.length > 0);
    for (const step of steps) assert.match(step, /SEARCH jobs USING INDEX/, JSON.stringify(rows));
  });

  it('finds unfinished jobs (start-up) and expired ones (retention) through indexes', () => {
    const plans = [
      db.prepare(`EXPLAIN QUERY PLAN ${UNFINISHED_JOBS_SQL}`).all(),
      db.prepare(`EXPLAIN QUERY PLAN ${EXPIRED_JOBS_SQL}`).all(new Date().toISOString(), 128),
    ] as { detail: string }[][];
    for (const rows of plans) {
      assert.ok(
        rows.every((row) => /INDEX/.test(row.detail)),
        JSON.stringify(rows),
      );
    }
  });
});
