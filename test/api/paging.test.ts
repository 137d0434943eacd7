// GET /v1/jobs a page at a time: every job exactly once, also while jobs come and go; cursors
// that only work for the client and the listing they came from; filters by status, time and
// label; labels on jobs and their limits. The store is filled directly with 5,000 ended jobs so
// the suite takes seconds, as a server that has run them would have recorded them.
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';
import { seedEndedJobs } from '../helpers/seed-jobs.ts';

const ALICE_JOBS = 5000;
const BOB_JOBS = 300;

interface Page {
  readonly status: number;
  readonly jobs: Job[];
  readonly next: string | undefined;
  readonly body: Record<string, unknown>;
}

describe('paged job listings', () => {
  let server: TestServer;
  let aliceIds: string[];
  let bobIds: string[];
  before(async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'jobworker-paging-'));
    const dataDir = join(baseDir, 'data');
    aliceIds = seedEndedJobs({
      dataDir,
      owner: 'alice',
      count: ALICE_JOBS,
      labelsOf: (index) => ({ pipeline: String(index % 50), stage: index % 2 ? 'test' : 'build' }),
    });
    bobIds = seedEndedJobs({
      dataDir,
      owner: 'bob',
      count: BOB_JOBS,
      labelsOf: () => ({ pipeline: '7' }),
    });
    server = await startServer({ baseDir });
  });
  after(() => server.dispose());

  async function page(client: string, path: string): Promise<Page> {
    const response = await server.request(client, 'GET', path);
    const body = response.json();
    const link = response.headers.link === undefined ? undefined : String(response.headers.link);
    const next = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
    if (link !== undefined) assert.ok(next, `a Link header names the next page: ${String(link)}`);
    return { status: response.status, jobs: (body.jobs ?? []) as Job[], next, body };
  }

  /** Every job of a listing, following its Link headers. */
  async function everyPage(
    client: string,
    first: string,
  ): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let path: string | undefined = first;
    let pages = 0;
    while (path !== undefined) {
      const current = await page(client, path);
      assert.equal(current.status, 200, JSON.stringify(current.body));
      ids.push(...current.jobs.map((job) => job.id));
      path = current.next;
      pages += 1;
    }
    return { ids, pages };
  }

  it('returns every job exactly once, newest first, 100 to a page by default', async () => {
    const first = await page('alice', '/v1/jobs');
    assert.equal(first.jobs.length, 100);
    assert.match(first.next ?? '', /^\/v1\/jobs\?cursor=[\w-]+$/);
    const { ids, pages } = await everyPage('alice', '/v1/jobs');
    assert.equal(pages, ALICE_JOBS / 100);
    assert.deepEqual(ids, [...aliceIds].reverse());
  });

  it('takes a page size up to 1,000, and refuses more', async () => {
    const { ids, pages } = await everyPage('alice', '/v1/jobs?limit=1000');
    assert.equal(pages, 5);
    assert.equal(new Set(ids).size, ALICE_JOBS);
    for (const limit of ['1001', '0', '-1', 'many']) {
      const refused = await server.request('alice', 'GET', `/v1/jobs?limit=${limit}`);
      assert.equal(refused.status, 400, limit);
      assert.equal(refused.json().code, 'INVALID_REQUEST');
    }
  });

  it("never shows a user another client's jobs; admins page through everyone's", async () => {
    const bob = await everyPage('bob', '/v1/jobs?limit=1000');
    assert.deepEqual(bob.ids, [...bobIds].reverse());
    const admin = await everyPage('admin', '/v1/jobs?limit=1000');
    assert.equal(admin.ids.length, ALICE_JOBS + BOB_JOBS);
    assert.equal(new Set(admin.ids).size, ALICE_JOBS + BOB_JOBS);
  });

  it('returns each job that exists throughout a paging once, while others come and go', async () => {
    const before = new Set((await everyPage('bob', '/v1/jobs?limit=1000')).ids);
    const seen: string[] = [];
    const deletedUnseen = new Set<string>();
    const added: string[] = [];
    let path: string | undefined = '/v1/jobs?limit=40';
    let round = 0;
    while (path !== undefined) {
      const current = await page('bob', path);
      assert.equal(current.status, 200);
      seen.push(...current.jobs.map((job) => job.id));
      path = current.next;
      round += 1;
      // Between pages: delete one job already listed and one not listed yet, and add a job.
      const listed = seen.at(-1 - (round % 5));
      const ahead = [...before].find((id) => !seen.includes(id) && !deletedUnseen.has(id));
      for (const id of [listed, ahead]) {
        if (id === undefined) continue;
        const deleted = await server.request('bob', 'DELETE', `/v1/jobs/${id}`);
        assert.equal(deleted.status, 204);
        if (id === ahead) deletedUnseen.add(id);
      }
      if (round % 2 === 0) added.push((await server.startJob('bob', { command: 'true' })).id);
    }
    assert.equal(new Set(seen).size, seen.length, 'no job twice');
    for (const id of before) {
      if (!deletedUnseen.has(id)) assert.ok(seen.includes(id), `job ${id} was listed`);
    }
    for (const id of deletedUnseen) assert.ok(!seen.includes(id), `deleted job ${id} not listed`);
    for (const id of added) assert.ok(!seen.includes(id), `job ${id}, added behind, not listed`);
    assert.ok(deletedUnseen.size > 0 && added.length > 0);
  });

  it("refuses another client's cursor, another listing's and a forged one, saying nothing", async () => {
    const bobs = await page('bob', '/v1/jobs?limit=10');
    const alices = await page('alice', '/v1/jobs?limit=10&status=exited');
    const cursorOf = (next: string | undefined): string =>
      new URLSearchParams(next?.split('?')[1] ?? '').get('cursor') ?? '';
    const bobCursor = cursorOf(bobs.next);
    const aliceCursor = cursorOf(alices.next);
    const forged = Buffer.alloc(36, 7).toString('base64url');
    const attempts = [
      ['alice', `/v1/jobs?cursor=${bobCursor}`],
      ['alice', `/v1/jobs?limit=10&cursor=${aliceCursor}`],
      ['alice', `/v1/jobs?status=failed&cursor=${aliceCursor}`],
      ['alice', `/v1/jobs?cursor=${forged}`],
      ['alice', `/v1/jobs?cursor=${aliceCursor.slice(0, -2)}`],
      ['alice', '/v1/jobs?cursor=%00%01'],
      ['admin', `/v1/jobs?cursor=${bobCursor}`],
    ] as const;
    const details = new Set<string>();
    for (const [client, path] of attempts) {
      const response = await server.request(client, 'GET', path);
      assert.equal(response.status, 400, path);
      const problem = response.json<{ code: string; detail: string }>();
      assert.equal(problem.code, 'INVALID_REQUEST');
      details.add(problem.detail);
      assert.doesNotMatch(response.text(), /bob|pipeline|echo/);
    }
    // All refused alike: the answer does not tell whose cursor it was, or why it does not fit.
    assert.equal(details.size, 1, [...details].join(' | '));
    // The cursor itself works for its own listing.
    const own = await page('alice', `/v1/jobs?limit=10&status=exited&cursor=${aliceCursor}`);
    assert.equal(own.status, 200);
    assert.equal(own.jobs.length, 10);
  });

  it('filters by status (one or several), creation time and labels, in any combination', async () => {
    const running = await server.startJob('alice', { command: 'sleep', args: ['30'] });
    try {
      const onlyRunning = await everyPage('alice', '/v1/jobs?status=running');
      assert.deepEqual(onlyRunning.ids, [running.id]);
      const both = await everyPage('alice', '/v1/jobs?status=running,exited&limit=1000');
      assert.equal(both.ids.length, ALICE_JOBS + 1);
      assert.equal(both.ids[0], running.id);

      const created = new Date(running.createdAt).getTime();
      const since = new Date(created - 1).toISOString();
      assert.deepEqual((await everyPage('alice', `/v1/jobs?since=${since}`)).ids, [running.id]);
      const until = await everyPage('alice', `/v1/jobs?until=${since}&limit=1000`);
      assert.equal(until.ids.length, ALICE_JOBS);

      const pipeline = await everyPage('alice', '/v1/jobs?label=pipeline=3');
      const expected = aliceIds.filter((_, index) => index % 50 === 3).reverse();
      assert.deepEqual(pipeline.ids, expected);
      const anded = await everyPage('alice', '/v1/jobs?label=pipeline=3&label=stage=test&limit=7');
      assert.deepEqual(anded.ids, expected, 'pipeline 3 is all odd indexes: stage=test');
      const none = await everyPage('alice', '/v1/jobs?label=pipeline=3&label=stage=build');
      assert.deepEqual(none.ids, []);
      // Bob's pipeline 7 is his own: alice's listing of it has only hers.
      const sevens = await everyPage('alice', '/v1/jobs?label=pipeline=7');
      assert.equal(sevens.ids.length, ALICE_JOBS / 50);
      assert.ok(sevens.ids.every((id) => !bobIds.includes(id)));
      const bobSevens = await everyPage('bob', '/v1/jobs?label=pipeline=7&limit=1000');
      const adminSevens = await everyPage('admin', '/v1/jobs?label=pipeline=7&limit=1000');
      assert.deepEqual(new Set(adminSevens.ids), new Set([...sevens.ids, ...bobSevens.ids]));
    } finally {
      await server.request('alice', 'POST', `/v1/jobs/${running.id}/stop`);
    }
  });

  it('refuses filters it cannot apply, naming the parameter', async () => {
    const cases: Record<string, string> = {
      'status=sleeping': '?status',
      'status=': '?status',
      'since=yesterday': '?since',
      'until=2026-11-30': '?until',
      'label=pipeline': '?label',
      'label=-bad=1': '?label',
      'label=a=1&label=a=2': '?label',
      [Array.from({ length: 17 }, (_, index) => `label=k${index}=v`).join('&')]: '?label',
      'idPrefix=XYZ': '?idPrefix',
      'owner=bob': '(query)',
    };
    for (const [query, field] of Object.entries(cases)) {
      const response = await server.request('alice', 'GET', `/v1/jobs?${query}`);
      assert.equal(response.status, 400, query);
      const problem = response.json<{ code: string; errors: { field: string }[] }>();
      assert.equal(problem.code, 'INVALID_REQUEST', query);
      assert.ok(
        problem.errors.some((detail) => detail.field.startsWith(field)),
        `${query}: ${JSON.stringify(problem.errors)}`,
      );
    }
  });

  it('finds jobs by the start of their id, among those the client may see', async () => {
    const id = aliceIds[1234] ?? '';
    const found = await page('alice', `/v1/jobs?idPrefix=${id.slice(0, 13)}`);
    assert.deepEqual(
      found.jobs.map((job) => job.id),
      [id],
    );
    const bobsId = bobIds[0] ?? '';
    const hidden = await page('alice', `/v1/jobs?idPrefix=${bobsId}`);
    assert.deepEqual(hidden.jobs, []);
  });
});

describe('labels on jobs', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.dispose());

  it('keeps the labels a job starts with, shows them, and puts them in the audit trail', async () => {
    const labels = { pipeline: '4711', 'ci.example.com/stage': 'test', empty: '' };
    const job = await server.startJob('alice', { command: 'true', labels });
    assert.deepEqual(job.labels, labels);
    const read = await server.request('alice', 'GET', `/v1/jobs/${job.id}`);
    assert.deepEqual(read.json().labels, labels);
    const unlabelled = await server.startJob('alice', { command: 'true' });
    assert.deepEqual(unlabelled.labels, {});
    const audit = await server.request('auditor', 'GET', `/v1/audit?job=${job.id}`);
    const records = audit.json<{ records: { action: string; details: { labels?: unknown } }[] }>()
      .records;
    const start = records.find((record) => record.action === 'job.start');
    assert.deepEqual(start?.details.labels, labels);
  });

  it('refuses labels Kubernetes would refuse, and more than 16', async () => {
    const bad: Record<string, Record<string, string>> = {
      'key too long': { [`k${'x'.repeat(63)}`]: 'v' },
      'value too long': { key: 'v'.repeat(64) },
      'key with a space': { 'a key': 'v' },
      'value with a slash': { key: 'a/b' },
      'key starting with a dash': { '-key': 'v' },
      'empty key': { '': 'v' },
      'upper-case prefix': { 'Example.com/key': 'v' },
      'seventeen labels': Object.fromEntries(
        Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v']),
      ),
    };
    for (const [what, labels] of Object.entries(bad)) {
      const response = await server.request('alice', 'POST', '/v1/jobs', {
        json: { command: 'true', labels },
      });
      assert.equal(response.status, 400, what);
      const problem = response.json<{ code: string; errors: { field: string }[] }>();
      assert.equal(problem.code, 'INVALID_REQUEST', what);
      assert.ok(
        problem.errors.some((detail) => detail.field.startsWith('labels')),
        `${what}: ${JSON.stringify(problem.errors)}`,
      );
    }
    const sixteen = Object.fromEntries(
      Array.from({ length: 16 }, (_, index) => [`k${index}`, 'v']),
    );
    const job = await server.startJob('alice', { command: 'true', labels: sixteen });
    assert.equal(Object.keys(job.labels as object).length, 16);
  });
});

describe('a paging across a restart of the server', () => {
  it('goes on from the cursor the previous server gave', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'jobworker-paging-'));
    const ids = seedEndedJobs({ dataDir: join(baseDir, 'data'), owner: 'alice', count: 30 });
    let server = await startServer({ baseDir });
    const first = await server.request('alice', 'GET', '/v1/jobs?limit=20');
    const next = /^<([^>]+)>/.exec(String(first.headers.link ?? ''))?.[1];
    assert.ok(next);
    await server.stop();
    server = await startServer({ baseDir });
    try {
      const second = await server.request('alice', 'GET', next);
      assert.equal(second.status, 200, second.text());
      const listed = [
        ...first.json<{ jobs: Job[] }>().jobs,
        ...second.json<{ jobs: Job[] }>().jobs,
      ];
      assert.deepEqual(
        listed.map((job) => job.id),
        [...ids].reverse(),
      );
      assert.equal(second.headers.link, undefined);
    } finally {
      await server.dispose();
    }
  });
});

describe('retention at scale', () => {
  it('deletes expired jobs and their output in batches once the server serves', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'jobworker-retention-'));
    const dataDir = join(baseDir, 'data');
    const day = 24 * 60 * 60 * 1000;
    const expired = seedEndedJobs({
      dataDir,
      owner: 'alice',
      count: 1000,
      endedAt: () => new Date(Date.now() - 8 * day),
      withOutput: true,
    });
    const kept = seedEndedJobs({ dataDir, owner: 'alice', count: 50, withOutput: true });
    const server = await startServer({ baseDir, env: { RETENTION: '7d' } });
    try {
      const swept = await server.waitForLog((line) => line.msg === 'expired jobs deleted', 0);
      assert.equal(swept.count, expired.length);
      const listed = await server.request('alice', 'GET', '/v1/jobs?limit=1000');
      assert.deepEqual(
        listed.json<{ jobs: Job[] }>().jobs.map((job) => job.id),
        [...kept].reverse(),
      );
      const left = new Set(await readdir(join(dataDir, 'jobs')));
      assert.ok(
        expired.every((id) => !left.has(id)),
        'expired output deleted',
      );
      assert.ok(
        kept.every((id) => left.has(id)),
        'kept output kept',
      );
      const metrics = (await server.request('admin', 'GET', '/metrics')).text();
      assert.match(metrics, /^jobworker_event_loop_delay_max_seconds \d/m);
    } finally {
      await server.dispose();
    }
  });
});
