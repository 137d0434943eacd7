// A follower storm, as a hostile client makes one: alice opens far more output streams of a quiet
// job than her budget allows (each on its own connection), while bob checks /healthz. Reported:
// how many of alice's the server took and refused, bob's latency during the storm against
// before it, the server's RSS per open follower, and its RSS once alice lets go (right away, and
// after a few seconds, as an allocator may keep freed memory for a while).
import { setTimeout as delay } from 'node:timers/promises';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { apiClient, consume, send, startJob, type ApiClient } from '../lib/http.ts';
import { memoryOf } from '../lib/process-stats.ts';
import { compare, latency, single } from '../lib/report.ts';
import { Samples } from '../lib/stats.ts';

const MIB = 1024 * 1024;
/** The server's defaults, which the shared bench server lifts. */
const BUDGETS = { CLIENT_FOLLOWERS: '128', CLIENT_CONNECTIONS: '256' };
/** How long after the storm the RSS is read again: the figure is about the allocator. */
const SETTLE_MS = 5000;

export const followerStorm: Scenario = {
  name: 'follower-storm',
  title: 'a follower storm from one client, against the per-client budgets',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const server = await context.freshServer(BUDGETS);
    const storm = sized(context, 400, 150);
    const alice = apiClient(server, { name: 'alice' });
    const bob = apiClient(server, { name: 'bob', maxSockets: 1 });
    try {
      const job = await startJob(alice, 'sh', ['-c', 'echo started; sleep 3600']);
      const samples = new Samples();
      for (let i = 0; i < 20; i++) samples.add('bob before', await health(bob));
      const rssBefore = memoryOf(server.pid).rssBytes;

      const opened = await Promise.allSettled(
        Array.from({ length: storm }, async () => {
          const response = await send(alice, 'GET', `/v1/jobs/${job.id}/output?follow=true`)
            .response;
          if (response.statusCode !== 200) await consume(response);
          return response;
        }),
      );
      const held = opened.flatMap((result) =>
        result.status === 'fulfilled' && result.value.statusCode === 200 ? [result.value] : [],
      );
      const limited = opened.filter(
        (result) => result.status === 'fulfilled' && result.value.statusCode === 429,
      ).length;
      const closed = opened.filter((result) => result.status === 'rejected').length;
      for (let i = 0; i < 20; i++) samples.add('bob during', await health(bob));
      const rssDuring = memoryOf(server.pid).rssBytes;

      for (const response of held) response.destroy();
      alice.agent.destroy();
      const rssAfter = memoryOf(server.pid).rssBytes;
      await delay(SETTLE_MS);
      const rssSettled = memoryOf(server.pid).rssBytes;
      const perFollower = held.length === 0 ? 0 : (rssDuring - rssBefore) / held.length;
      return {
        figures: [
          {
            name: `alice asks for ${storm} followers: taken`,
            value: single('followers', held.length),
            note: `${limited} answered 429, ${closed} connections closed (budget 128 streams, 256 connections)`,
          },
          compare(
            "bob's /healthz during the storm",
            latency(samples.summary('bob during')),
            'before it',
            latency(samples.summary('bob before')),
          ),
          {
            name: 'server RSS per open follower',
            value: single('KiB', perFollower / 1024),
            note: `RSS ${(rssBefore / MIB).toFixed(0)} MiB before, ${(rssDuring / MIB).toFixed(0)} MiB with ${held.length} open`,
          },
          {
            name: 'server RSS once alice lets go (right away / after 5 s)',
            value: single('MiB', rssSettled / MIB),
            note: `${(rssAfter / MIB).toFixed(0)} MiB right away; ${(rssBefore / MIB).toFixed(0)} MiB before the storm`,
          },
        ],
        details: {
          storm,
          held: held.length,
          limited,
          closed,
          rssBefore,
          rssDuring,
          rssAfter,
          rssSettled,
        },
      };
    } finally {
      alice.agent.destroy();
      bob.agent.destroy();
      await server.dispose();
    }
  },
};

async function health(client: ApiClient): Promise<number> {
  const sent = send(client, 'GET', '/healthz');
  const response = await sent.response;
  await consume(response);
  if (response.statusCode !== 200) throw new Error(`bob's /healthz: ${response.statusCode}`);
  return performance.now() - sent.sentAt;
}
