// Job history at scale: a server whose store holds 100,000 ended jobs of one client (filled
// through the store, not the API, with an output directory each, as real jobs leave), plus
// 10,000 more that retention must delete. It reports the server's start-up time and memory, the
// longest event-loop delay while retention deletes the expired jobs, the latency of listing
// pages (the first, later ones by cursor, a label filter) and of reading one job, and the start
// and deletion of a job among 100,000 directories beside the same on an empty store in this run.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { seedEndedJobs } from '../../test/helpers/seed-jobs.ts';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import {
  apiClient,
  consume,
  deleteJob,
  expectJson,
  send,
  startJob,
  type ApiClient,
} from '../lib/http.ts';
import { memoryOf } from '../lib/process-stats.ts';
import { compare, latency, single, type Figure, type Measured } from '../lib/report.ts';
import type { BenchServer } from '../lib/server.ts';
import { Samples } from '../lib/stats.ts';

const MIB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;
/** How often the event-loop delay is sampled while retention runs (each sample is the max). */
const DELAY_SAMPLE_MS = 100;
const GOALS = { startupMs: 2000, rssMib: 200, readP99Ms: 20, loopDelayMs: 50 } as const;

export const history: Scenario = {
  name: 'history',
  title: '100,000 ended jobs: start-up, memory, paging, retention',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const kept = sized(context, 100_000, 2_000);
    const expired = sized(context, 10_000, 500);
    const reads = sized(context, 1000, 50);
    const churn = sized(context, 50, 5);

    context.log('history: the same start and delete on an empty store first');
    const empty = await context.freshServer();
    let emptyChurn: Samples;
    try {
      emptyChurn = await startAndDelete(empty, churn);
    } finally {
      await empty.dispose();
    }

    context.log(`history: filling a store with ${kept + expired} ended jobs`);
    let fillMs = 0;
    const full = await context.freshServer({ RETENTION: '7d' }, (dataDir) => {
      const began = performance.now();
      const labelsOf = (index: number): Record<string, string> => ({
        pipeline: String(index % 1000),
        stage: index % 2 === 0 ? 'build' : 'test',
      });
      const longAgo = new Date(Date.now() - 8 * DAY_MS);
      seedEndedJobs({
        dataDir,
        owner: 'alice',
        count: expired,
        endedAt: () => longAgo,
        labelsOf,
        withOutput: true,
      });
      seedEndedJobs({ dataDir, owner: 'alice', count: kept, labelsOf, withOutput: true });
      fillMs = performance.now() - began;
    });
    try {
      const client = apiClient(full, { maxSockets: 1 });
      const scraper = apiClient(full, { name: 'admin', maxSockets: 1 });
      const sweep = await watchRetention(full, scraper, kept + expired);
      scraper.agent.destroy();
      const rssAfterStart = memoryOf(full.pid).rssBytes;
      const samples = await readLatencies(client, reads);
      const fullChurn = await startAndDelete(full, churn);
      const rssAfterReads = memoryOf(full.pid).rssBytes;
      client.agent.destroy();

      const read = (name: string): Measured => latency(samples.summary(name));
      const under = (limit: number) => (value: Measured) => (value.tail ?? value.median) < limit;
      const goal = (name: string, value: Measured, limit: number, text: string): Figure => ({
        name,
        value,
        goal: text,
        met: under(limit)(value),
      });
      return {
        figures: [
          goal(
            `server start-up with ${kept + expired} jobs`,
            single('ms', full.startupMs),
            GOALS.startupMs,
            `< ${GOALS.startupMs} ms`,
          ),
          goal(
            'server RSS after start-up and every read below',
            single('MiB', Math.max(rssAfterStart, rssAfterReads) / MIB),
            GOALS.rssMib,
            `< ${GOALS.rssMib} MiB`,
          ),
          {
            ...goal(
              `longest event-loop delay while retention deletes ${expired} jobs`,
              single('ms', sweep.maxDelayMs),
              GOALS.loopDelayMs,
              `< ${GOALS.loopDelayMs} ms`,
            ),
            note: `${sweep.samples} samples over ${Math.round(sweep.durationMs)} ms of deletion; ${sweep.deletedBeforeFirstSample} jobs were deleted before the first sample`,
          },
          goal(
            'GET /v1/jobs?limit=100 (first page)',
            read('first page'),
            GOALS.readP99Ms,
            `p99 < ${GOALS.readP99Ms} ms`,
          ),
          goal(
            'GET /v1/jobs?limit=100&cursor=… (pages after it)',
            read('next page'),
            GOALS.readP99Ms,
            `p99 < ${GOALS.readP99Ms} ms`,
          ),
          goal(
            'GET /v1/jobs?label=pipeline=N (one in 1,000 jobs matches)',
            read('label'),
            GOALS.readP99Ms,
            `p99 < ${GOALS.readP99Ms} ms`,
          ),
          goal(
            'GET /v1/jobs/{id}',
            read('one job'),
            GOALS.readP99Ms,
            `p99 < ${GOALS.readP99Ms} ms`,
          ),
          compare(
            `job start (true) among ${kept} job directories`,
            latency(fullChurn.summary('start')),
            'the same on an empty store',
            latency(emptyChurn.summary('start')),
          ),
          compare(
            `job delete among ${kept} job directories`,
            latency(fullChurn.summary('delete')),
            'the same on an empty store',
            latency(emptyChurn.summary('delete')),
          ),
        ],
        details: {
          kept,
          expired,
          fillMs,
          startupMs: full.startupMs,
          rssAfterStartBytes: rssAfterStart,
          rssAfterReadsBytes: rssAfterReads,
          retention: sweep,
          readsMs: samples.all(),
          churnMs: { full: fullChurn.all(), empty: emptyChurn.all() },
        },
      };
    } finally {
      await full.dispose();
    }
  },
};

interface SweepWatch {
  readonly maxDelayMs: number;
  readonly samples: number;
  readonly durationMs: number;
  readonly deletedBeforeFirstSample: number;
}

/**
 * Samples the server's longest event-loop delay (its /metrics, reset at each scrape) until its
 * log says retention is done. The first scrape covers start-up and is left out.
 */
async function watchRetention(
  server: BenchServer,
  client: ApiClient,
  jobsAtStart: number,
): Promise<SweepWatch> {
  const first = await scrape(client);
  const delays: number[] = [];
  const began = performance.now();
  while (sweptCount(server) === undefined) {
    await sleep(DELAY_SAMPLE_MS);
    delays.push((await scrape(client)).delayMs);
  }
  return {
    maxDelayMs: Math.max(0, ...delays),
    samples: delays.length,
    durationMs: performance.now() - began,
    deletedBeforeFirstSample: jobsAtStart - first.jobs,
  };
}

async function scrape(client: ApiClient): Promise<{ delayMs: number; jobs: number }> {
  const response = await send(client, 'GET', '/metrics').response;
  const chunks: Buffer[] = [];
  for await (const chunk of response as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  const delay = /^jobworker_event_loop_delay_max_seconds (\S+)$/m.exec(text)?.[1];
  const counts = [...text.matchAll(/^jobworker_jobs\{status="[a-z]+"\} (\d+)$/gm)];
  const jobs = counts.reduce((sum, match) => sum + Number(match[1]), 0);
  return { delayMs: Number(delay ?? Number.NaN) * 1000, jobs };
}

/** The count in the server's 'expired jobs deleted' line, once it is there. */
function sweptCount(server: BenchServer): number | undefined {
  for (const line of readFileSync(server.logFile, 'utf8').split('\n')) {
    if (!line.includes('"expired jobs deleted"')) continue;
    return (JSON.parse(line) as { count: number }).count;
  }
  return undefined;
}

/** Listing and reading latencies, one request at a time over one keep-alive connection. */
async function readLatencies(client: ApiClient, reads: number): Promise<Samples> {
  const samples = new Samples();
  const timed = async (name: string, path: string): Promise<{ next?: string; ids: string[] }> => {
    const began = performance.now();
    const response = await expectJson<{ jobs?: { id: string }[] }>(client, 200, 'GET', path);
    samples.add(name, performance.now() - began);
    const link = response.headers.link;
    const next = typeof link === 'string' ? /^<([^>]+)>/.exec(link)?.[1] : undefined;
    const ids = (response.body.jobs ?? []).map((job) => job.id);
    return { ...(next === undefined ? {} : { next }), ids };
  };
  for (let index = 0; index < reads; index++) await timed('first page', '/v1/jobs?limit=100');
  const ids: string[] = [];
  let next: string | undefined = (await timed('first page', '/v1/jobs?limit=100')).next;
  for (let index = 0; index < reads && next !== undefined; index++) {
    const page = await timed('next page', next);
    ids.push(...page.ids.slice(0, 1));
    next = page.next;
  }
  for (let index = 0; index < reads; index++) {
    await timed('label', `/v1/jobs?label=pipeline=${index % 1000}`);
  }
  for (let index = 0; index < reads; index++) {
    await timed('one job', `/v1/jobs/${ids[index % ids.length] ?? ''}`);
  }
  return samples;
}

/** Starts `true` and deletes it when it has ended, `count` times: start and delete latencies. */
async function startAndDelete(server: BenchServer, count: number): Promise<Samples> {
  const client = apiClient(server, { maxSockets: 1 });
  const samples = new Samples();
  try {
    for (let index = 0; index < count; index++) {
      let began = performance.now();
      const job = await startJob(client, 'true');
      samples.add('start', performance.now() - began);
      await consume(await send(client, 'GET', `/v1/jobs/${job.id}/output?follow=true`).response);
      began = performance.now();
      await deleteJob(client, job.id);
      samples.add('delete', performance.now() - began);
    }
  } finally {
    client.agent.destroy();
  }
  return samples;
}
