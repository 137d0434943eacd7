// Many followers of one job: a job writes 256 MiB (`yes LINE | head -c 256M`, a 64-byte line, so
// a lost or repeated chunk shows) and 100 clients follow its output from the first byte, each on
// its own keep-alive connection, every byte of every follower checked. Baseline: one follower of
// the same job in the same run. The server's peak memory is its RSS high-water mark over the
// many-follower runs, against its RSS just before them; a first round with an eighth of the output
// shows whether that peak grows with the output (it must not) or only with the followers.
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import {
  apiClient,
  consume,
  deleteJob,
  expectJson,
  inParallel,
  send,
  startJob,
  type ApiClient,
} from '../lib/http.ts';
import { memoryOf, resetPeak } from '../lib/process-stats.ts';
import { compare, single, throughput } from '../lib/report.ts';
import { Samples, summarize } from '../lib/stats.ts';
import { LINE, PatternCheck } from '../lib/verify.ts';

const MIB = 1024 * 1024;
/** Memory a follower may cost the server at its peak: one read buffer and TLS and socket buffers. */
const PER_FOLLOWER_BOUND = 1 * MIB;

export const manyFollowers: Scenario = {
  name: 'followers',
  title: 'many followers of one job',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const server = await context.server();
    const followers = sized(context, 100, 10);
    const bytes = sized(context, 256 * MIB, 16 * MIB);
    const jobArgs = ['-c', `yes ${LINE} | head -c ${bytes}`];
    const client = apiClient(server);
    try {
      // Baseline: one follower of the same job, in the same run.
      const single1 = new Samples();
      let peakGrowthOne = 0;
      for (let round = 0; round < sized(context, 3, 1); round++) {
        const before = memoryOf(server.pid).rssBytes;
        resetPeak(server.pid);
        const result = await followJob(client, jobArgs, bytes, 1);
        peakGrowthOne = Math.max(peakGrowthOne, memoryOf(server.pid).peakRssBytes - before, 0);
        single1.add('one follower', result.totalMs);
      }

      // One round at an eighth of the size first: if the server's memory grew with the output,
      // its peak would be eight times smaller there.
      const smallBytes = bytes / 8;
      const smallArgs = ['-c', `yes ${LINE} | head -c ${smallBytes}`];
      const small = await followersRound(server.pid, client, smallArgs, smallBytes, followers);

      const full = await followersRound(server.pid, client, jobArgs, bytes, followers);
      const peakGrowth = full.growth;
      const idleRss = full.rssBefore;
      const perFollower = new Samples();
      for (const ms of full.result.followerMs) perFollower.add('follower', ms);
      const complete = Math.min(small.result.complete, full.result.complete);
      const failures = [...small.result.failures, ...full.result.failures];
      const oneFollower = throughput(bytes, single1.summary('one follower'));
      const aggregate = throughput(bytes * followers, summarize([full.result.totalMs]));
      return {
        figures: [
          {
            name: `${followers} followers: every follower got every byte`,
            value: single('followers', complete),
            goal: `all ${followers}`,
            met: complete === followers,
            ...(failures.length === 0 ? {} : { note: failures.slice(0, 3).join('; ') }),
          },
          compare(
            `${followers} followers: aggregate throughput`,
            aggregate,
            '1 follower',
            oneFollower,
          ),
          compare(
            `${followers} followers: per-follower throughput`,
            throughput(bytes, perFollower.summary('follower')),
            '1 follower',
            oneFollower,
          ),
          {
            name: `${followers} followers: server peak RSS − RSS before`,
            value: single('MiB', peakGrowth / MIB),
            baseline: { name: '1 follower', value: single('MiB', peakGrowthOne / MIB) },
            ratio: peakGrowth / peakGrowthOne,
            goal: `≤ ${PER_FOLLOWER_BOUND / MIB} MiB per follower (${(followers * PER_FOLLOWER_BOUND) / MIB} MiB)`,
            met: peakGrowth <= followers * PER_FOLLOWER_BOUND,
            note: `RSS before: ${(idleRss / MIB).toFixed(0)} MiB`,
          },
          {
            name: `${followers} followers: the same with ${smallBytes / MIB} MiB of output`,
            value: single('MiB', small.growth / MIB),
            baseline: { name: `${bytes / MIB} MiB`, value: single('MiB', peakGrowth / MIB) },
            ratio: small.growth / peakGrowth,
            note: 'memory that grew with the output would be 8× smaller here',
          },
        ],
        details: {
          followers,
          bytes,
          job: ['sh', ...jobArgs],
          totalMs: full.result.totalMs,
          perFollowerMs: perFollower.summary('follower'),
          oneFollowerMs: single1.summary('one follower'),
          peakGrowthBytes: peakGrowth,
          peakGrowthOneFollowerBytes: peakGrowthOne,
          peakGrowthSmallOutputBytes: small.growth,
          idleRssBytes: idleRss,
        },
      };
    } finally {
      client.agent.destroy();
    }
  },
};

/** One many-follower run with the server's peak RSS reset before it. */
async function followersRound(
  pid: number,
  client: ApiClient,
  jobArgs: readonly string[],
  bytes: number,
  followers: number,
): Promise<{ result: FollowResult; growth: number; rssBefore: number }> {
  // Connections are opened just before: the server closes keep-alive connections idle for 5 s.
  await openConnections(client, followers);
  const rssBefore = memoryOf(pid).rssBytes;
  resetPeak(pid);
  const result = await followJob(client, jobArgs, bytes, followers);
  // A garbage collection during the run can leave the peak below the RSS before it.
  return { result, growth: Math.max(0, memoryOf(pid).peakRssBytes - rssBefore), rssBefore };
}

/** Opens `count` keep-alive connections up front, so no follower's TLS handshake is timed. */
async function openConnections(client: ApiClient, count: number): Promise<void> {
  const job = await startJob(client, 'true');
  await Promise.all(
    Array.from({ length: count }, () => expectJson(client, 200, 'GET', `/v1/jobs/${job.id}`)),
  );
}

interface FollowResult {
  readonly totalMs: number;
  readonly followerMs: number[];
  readonly complete: number;
  readonly failures: string[];
}

/** Starts the job, follows it `count` times at once from byte 0; times are from the start. */
async function followJob(
  client: ApiClient,
  jobArgs: readonly string[],
  bytes: number,
  count: number,
): Promise<FollowResult> {
  const started = performance.now();
  const job = await startJob(client, 'sh', jobArgs);
  const failures: string[] = [];
  const followerMs = await inParallel(
    Array.from({ length: count }, (_, index) => index),
    count,
    async (index) => {
      const sent = send(client, 'GET', `/v1/jobs/${job.id}/output?follow=true`);
      const response = await sent.response;
      const check = PatternCheck.line();
      await consume(response, check);
      if (response.statusCode !== 200 || !check.complete(bytes)) {
        failures.push(`follower ${index}: HTTP ${response.statusCode}, ${check.describe(bytes)}`);
      }
      return performance.now() - started;
    },
  );
  const totalMs = performance.now() - started;
  await deleteJob(client, job.id);
  return { totalMs, followerMs, complete: count - failures.length, failures };
}
