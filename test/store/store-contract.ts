// What any job store must do, whatever keeps the jobs: storeContract() declares the cases, and a
// store's own test file runs them against a fresh store of its kind (sqlite-store.test.ts; a
// PostgreSQL store's will be another). The cases ask only through the Store interface, as the
// registry, the API's listings, retention and recovery do, so a store passes them by behaving,
// not by sharing SQLite's SQL.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ClientBudget, Job, JobFilter, PageRequest } from '../../src/jobs/job.ts';
import type { JobStatus } from '../../src/jobs/job-status.ts';
import type { Store } from '../../src/store/store.ts';

/** A store's data for one test: opened (and opened again) by the cases, removed after them. */
export interface StoreUnderTest {
  /** A store over this data; one opened after another's close() sees what that one wrote. */
  open(): Promise<Store>;
  /** Removes the data, after the last store over it has closed. */
  remove(): Promise<void>;
}

const MIB = 1024 ** 2;

/** A job as the registry records it at its start, `createdAt` a second apart by `index`. */
export function jobOf(owner: string, index: number, overrides: Partial<Job> = {}): Job {
  return {
    id: randomUUID(),
    owner,
    clientSerial: '0a1b2c',
    command: '/bin/sh',
    args: ['-c', `echo ${index}`],
    envNames: ['HOME', 'TOKEN'],
    cwd: '/work',
    limits: { memoryBytes: 64 * MIB, pids: 32 },
    timeoutMs: 30_000,
    sandbox: 'private',
    image: null,
    network: 'none',
    labels: { pipeline: String(index % 2) },
    queueTimeoutMs: null,
    queuePosition: null,
    queueReason: null,
    stdin: false,
    stderr: 'separate',
    volumes: [],
    tty: null,
    status: 'starting',
    exitCode: null,
    signal: null,
    error: null,
    oomKilled: false,
    usage: null,
    outputBytes: 0,
    outputTruncated: false,
    outputCapBytes: 8 * MIB,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
    startedAt: null,
    stopRequestedAt: null,
    endedAt: null,
    ...overrides,
  };
}

/** Declares the contract's cases against the stores `fresh` makes (each test its own). */
export function storeContract(name: string, fresh: () => Promise<StoreUnderTest>): void {
  describe(`the store contract: ${name}`, () => {
    let data: StoreUnderTest;
    let store: Store;
    beforeEach(async () => {
      data = await fresh();
      store = await data.open();
    });
    afterEach(async () => {
      await store.close();
      await data.remove();
    });

    /** Inserts jobs in this order (oldest first), each with its budget when it has one. */
    async function insertAll(jobs: readonly Job[], budget?: ClientBudget): Promise<Job[]> {
      for (const job of jobs) await store.insert(job, budget);
      return [...jobs];
    }

    /** Every job a listing pages through from `page` on, `page.limit` at a time, newest first. */
    async function pagesFrom(filter: JobFilter, page: PageRequest): Promise<Job[]> {
      const seen: Job[] = [];
      for (let at = page; ;) {
        const { positions, next } = await store.list(filter, at);
        seen.push(...(await store.atPositions(positions)));
        if (next === undefined) return seen;
        at = { limit: page.limit, after: next };
      }
    }

    const listAll = (filter: JobFilter, limit: number): Promise<Job[]> =>
      pagesFrom(filter, { limit });

    const ids = (jobs: readonly Job[]): string[] => jobs.map((job) => job.id);

    it('gives back a job as it was recorded, every field, and nothing for an unknown id', async () => {
      const plain = jobOf('alice', 0);
      const terminal = jobOf('alice', 1, {
        tty: { rows: 40, cols: 120 },
        stdin: true,
        stderr: 'merged',
        image: 'debian',
        labels: { team: 'web', 'app.kubernetes.io/name': 'x' },
        queueTimeoutMs: 60_000,
        clientSerial: null,
        timeoutMs: null,
        limits: {},
        sandbox: 'host',
        args: ['naïve', '\u0001', '"quoted"', ''],
      });
      await insertAll([plain, terminal]);
      assert.deepEqual(await store.get(plain.id), plain);
      assert.deepEqual(await store.get(terminal.id), terminal);
      assert.equal(await store.get(randomUUID()), undefined);
    });

    it("records a job's way from start to end, and counts its output with its index", async () => {
      const [job] = await insertAll([jobOf('alice', 0)]);
      assert.ok(job);
      const startedAt = new Date().toISOString();
      await store.update(job.id, { status: 'running', startedAt });
      assert.equal((await store.get(job.id))?.status, 'running');
      const ended = {
        status: 'exited',
        exitCode: 3,
        endedAt: new Date().toISOString(),
        usage: { cpuMs: 12, peakMemoryBytes: MIB, outputIndexBytes: 40 },
        outputBytes: 1000,
        outputTruncated: true,
        oomKilled: true,
      } as const;
      await store.update(job.id, ended);
      assert.deepEqual(await store.get(job.id), { ...job, ...ended, startedAt });
      // The client's output counts the index beside the log.
      assert.equal(await store.outputBytesOf('alice'), 1040);
      assert.equal(await store.outputBytesOf('bob'), 0);
      assert.deepEqual(await store.countByStatus(), new Map<JobStatus, number>([['exited', 1]]));
    });

    it('lets one taker claim a queued job: a second transition from queued changes nothing', async () => {
      const [job] = await insertAll([jobOf('alice', 0, { status: 'queued' })]);
      assert.ok(job);
      assert.equal(await store.transition(job.id, 'queued', { status: 'starting' }), true);
      assert.equal(await store.transition(job.id, 'queued', { status: 'starting' }), false);
      assert.equal(
        await store.transition(job.id, 'queued', { status: 'failed', error: 'no' }),
        false,
      );
      const claimed = await store.get(job.id);
      assert.equal(claimed?.status, 'starting');
      assert.equal(claimed.error, null);
      assert.equal(await store.transition(randomUUID(), 'queued', { status: 'starting' }), false);
    });

    it('lists newest first, a page at a time, every job exactly once', async () => {
      const jobs = await insertAll(Array.from({ length: 7 }, (_, index) => jobOf('alice', index)));
      const first = await store.list({}, { limit: 3 });
      assert.equal(first.positions.length, 3);
      assert.notEqual(first.next, undefined);
      assert.deepEqual(ids(await listAll({}, 3)), ids(jobs).reverse());
      assert.deepEqual(ids(await listAll({}, 7)), ids(jobs).reverse());
      const last = await store.list({}, { limit: 7 });
      assert.equal(last.next, undefined);
    });

    it('pages on across jobs added and deleted between pages, each listed once', async () => {
      const jobs = await insertAll(Array.from({ length: 6 }, (_, index) => jobOf('alice', index)));
      const first = await store.list({}, { limit: 2 });
      assert.ok(first.next !== undefined);
      await store.insert(jobOf('alice', 10));
      await store.delete(jobs[0]?.id ?? '');
      const rest = await pagesFrom({}, { limit: 2, after: first.next });
      assert.deepEqual(ids(rest), ids(jobs.slice(1, 4)).reverse());
    });

    it("scopes a listing to its owner: a client never sees another's job", async () => {
      const alices = await insertAll([jobOf('alice', 0), jobOf('alice', 2)]);
      const bobs = await insertAll([jobOf('bob', 0), jobOf('bob', 2, { status: 'running' })]);
      assert.deepEqual(ids(await listAll({ owner: 'alice' }, 10)), ids(alices).reverse());
      // Bob's jobs carry the same label: still only Alice's.
      assert.deepEqual(
        ids(await listAll({ owner: 'alice', labels: { pipeline: '0' } }, 10)),
        ids(alices).reverse(),
      );
      assert.deepEqual(ids(await listAll({ owner: 'alice', statuses: ['running'] }, 10)), []);
      const bobsId = bobs[0]?.id ?? '';
      assert.deepEqual(await listAll({ owner: 'alice', idPrefix: bobsId.slice(0, 8) }, 10), []);
      // Without an owner (an admin's listing), everyone's.
      assert.equal((await listAll({ labels: { pipeline: '0' } }, 10)).length, 4);
    });

    it('filters by status, labels, id prefix and creation time, all together', async () => {
      const jobs = await insertAll(
        Array.from({ length: 6 }, (_, index) =>
          jobOf('alice', index, { status: index % 3 === 0 ? 'running' : 'starting' }),
        ),
      );
      const [j0, , , j3, j4] = jobs;
      assert.ok(j0 && j3 && j4);
      assert.deepEqual(ids(await listAll({ statuses: ['running'] }, 1)), [j3.id, j0.id]);
      assert.deepEqual(
        ids(await listAll({ statuses: ['running'], labels: { pipeline: '1' } }, 10)),
        [j3.id],
      );
      assert.deepEqual(ids(await listAll({ labels: { pipeline: '1', other: 'x' } }, 10)), []);
      assert.deepEqual(ids(await listAll({ idPrefix: j4.id.slice(0, 12) }, 10)), [j4.id]);
      assert.deepEqual(
        ids(
          await listAll(
            { createdSince: new Date(j3.createdAt), createdUntil: new Date(j4.createdAt) },
            10,
          ),
        ),
        [j3.id],
      );
    });

    it('keeps the queue in order: heads per client with their budgets, places and counts', async () => {
      const budget: ClientBudget = { totals: { memoryBytes: 256 * MIB }, outputBytes: 99 * MIB };
      const [a1, b1, a2, a3] = await insertAll(
        [
          jobOf('alice', 1, { status: 'queued' }),
          jobOf('bob', 2, { status: 'queued' }),
          jobOf('alice', 3, { status: 'queued' }),
          jobOf('alice', 4, { status: 'queued' }),
        ],
        budget,
      );
      assert.ok(a1 && b1 && a2 && a3);
      const started = jobOf('carol', 5);
      await store.insert(started);
      assert.deepEqual(ids(await store.queued()), [a1.id, b1.id, a2.id, a3.id]);
      assert.deepEqual(await store.queueHeads(), [
        { job: a1, budget },
        { job: b1, budget },
      ]);
      assert.equal(await store.countQueued(), 4);
      assert.equal(await store.countQueued('alice'), 3);
      assert.equal(await store.countQueued('carol'), 0);
      assert.equal(await store.queuePosition(a1), 1);
      assert.equal(await store.queuePosition(a3), 3);
      assert.equal(await store.queuePosition(b1), 1);
      assert.deepEqual(await store.oldestQueuedAt(), new Date(a1.createdAt));
      assert.equal(await store.wasQueued(a1.id), true);
      assert.equal(await store.wasQueued(started.id), false);
      // Its head claimed, the client's next job heads its queue; it was queued all the same.
      await store.transition(a1.id, 'queued', { status: 'starting' });
      assert.deepEqual(
        (await store.queueHeads()).map((head) => head.job.id),
        [b1.id, a2.id],
      );
      assert.equal(await store.wasQueued(a1.id), true);
      assert.equal(await store.queuePosition(a3), 2);
      // A head queued with no budget has none.
      await store.delete(b1.id);
      const unbudgeted = jobOf('bob', 6, { status: 'queued' });
      await store.insert(unbudgeted);
      assert.deepEqual((await store.queueHeads()).at(-1), {
        job: unbudgeted,
        budget: { totals: {} },
      });
    });

    it('answers an empty queue', async () => {
      assert.deepEqual(await store.queued(), []);
      assert.deepEqual(await store.queueHeads(), []);
      assert.equal(await store.oldestQueuedAt(), undefined);
      assert.equal(await store.countQueued(), 0);
    });

    it('finds the jobs holding a slot, oldest first, and what they reserve per client', async () => {
      const budget: ClientBudget = { totals: { memoryBytes: 100 * MIB } };
      await insertAll(
        [
          jobOf('alice', 0, { status: 'running', limits: { memoryBytes: 64 * MIB } }),
          jobOf('alice', 1, { status: 'stopping', limits: {} }),
        ],
        budget,
      );
      const [b0] = await insertAll([jobOf('bob', 2, { status: 'starting', limits: {} })]);
      await insertAll([
        jobOf('bob', 3, { status: 'queued' }),
        jobOf('carol', 4, { status: 'exited', endedAt: new Date().toISOString() }),
      ]);
      const unfinished = await store.unfinished();
      assert.deepEqual(
        unfinished.map((job) => job.status),
        ['running', 'stopping', 'starting'],
      );
      assert.equal(unfinished[2]?.id, b0?.id);
      // Alice: 64 MiB + 10 MiB (the default) capped at her total of 100 MiB; Bob: 10 MiB.
      assert.equal(await store.reservedMemory(10 * MIB), 74 * MIB + 10 * MIB);
      const loads = await store.clientLoads(50 * MIB);
      assert.deepEqual(loads.get('alice'), {
        running: 2,
        reservedBytes: 114 * MIB,
        memoryTotalBytes: 100 * MIB,
        queued: 0,
        keptOutputBytes: 0,
        heldOutputBytes: 16 * MIB,
      });
      assert.equal(loads.get('bob')?.running, 1);
      assert.equal(loads.get('bob')?.queued, 1);
      assert.equal(loads.has('carol'), false);
      assert.equal(await store.reservedMemory(50 * MIB), 100 * MIB + 50 * MIB);
    });

    it('hands retention the jobs ended before a time, and forgets what it deletes', async () => {
      const old = new Date(Date.UTC(2026, 0, 1)).toISOString();
      const recent = new Date(Date.UTC(2026, 5, 1)).toISOString();
      const jobs = await insertAll(Array.from({ length: 5 }, (_, index) => jobOf('alice', index)));
      // A job's end is an update, as the registry records it.
      for (const [index, job] of jobs.entries()) {
        await store.update(job.id, { status: 'exited', endedAt: index < 3 ? old : recent });
      }
      await insertAll([jobOf('alice', 9, { status: 'running' })]);
      const cutoff = new Date(Date.UTC(2026, 2, 1)).toISOString();
      const before = await store.recordBytesOf('alice');
      const batch = await store.endedBefore(cutoff, 2);
      assert.equal(batch.length, 2);
      await store.deleteMany(batch);
      const second = await store.endedBefore(cutoff, 2);
      assert.equal(second.length, 1);
      await store.deleteMany(second);
      assert.deepEqual(await store.endedBefore(cutoff, 2), []);
      for (const job of jobs.slice(0, 3)) assert.equal(await store.get(job.id), undefined);
      assert.equal((await listAll({ owner: 'alice' }, 10)).length, 3);
      assert.ok((await store.recordBytesOf('alice')) < before);
      // What is left: the two recent and the running job, whose records still count.
      await store.delete(jobs[3]?.id ?? '');
      await store.delete(jobs[4]?.id ?? '');
      const [running] = await listAll({ owner: 'alice' }, 10);
      assert.ok(running);
      assert.equal(await store.recordBytesOf('alice'), recordBytes(running));
      assert.equal(await store.recordBytesOf('nobody'), 0);
    });

    it('keeps what it was told across a close and an open (migrating nothing twice)', async () => {
      const job = jobOf('alice', 0, { status: 'queued', tty: { rows: 5, cols: 6 } });
      await store.insert(job, { totals: { pids: 9 } });
      await store.update(job.id, { status: 'queued' });
      await store.sync();
      await store.close();
      store = await data.open();
      assert.deepEqual(await store.get(job.id), job);
      await store.close();
      store = await data.open();
      assert.deepEqual(await store.queueHeads(), [{ job, budget: { totals: { pids: 9 } } }]);
      assert.equal(await store.recordBytesOf('alice'), recordBytes(job));
    });
  });
}

/** What a job's record costs its client (recordCostOf), as the contract states it. */
function recordBytes(job: Pick<Job, 'command' | 'args' | 'envNames'>): number {
  return (
    Buffer.byteLength(job.command) +
    Buffer.byteLength(JSON.stringify(job.args)) +
    Buffer.byteLength(JSON.stringify(job.envNames))
  );
}
