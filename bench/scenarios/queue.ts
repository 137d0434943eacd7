// The queue's own cost: with one running slot per client, a `true` job submitted while a short
// job holds the slot is queued; the time from the first job's end to the queued job's start
// (both as the server recorded them) is what a queued job waits beyond its turn. Beside it, in
// the same run, a job started directly: POST → 201 on an idle slot.
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import {
  apiClient,
  consume,
  expectJson,
  send,
  startJob,
  type ApiClient,
  type JobRecord,
} from '../lib/http.ts';
import { compare, latency } from '../lib/report.ts';
import { Samples } from '../lib/stats.ts';

export const queue: Scenario = {
  name: 'queue',
  title: 'a queued job: from a slot freeing to its start',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const rounds = sized(context, 100, 5);
    const server = await context.freshServer({ CLIENT_MAX_RUNNING: '1' });
    const client = apiClient(server, { maxSockets: 4 });
    const samples = new Samples();
    try {
      for (let round = 0; round < rounds; round++) {
        let began = performance.now();
        const direct = await startJob(client, 'true');
        samples.add('direct start', performance.now() - began);
        await ended(client, direct.id);

        const holder = await startJob(client, 'sleep', ['0.05']);
        began = performance.now();
        const queued = await startJob(client, 'true');
        if (queued.status !== 'queued')
          throw new Error(`expected a queued job, got ${queued.status}`);
        samples.add('queued answer', performance.now() - began);
        const [first, second] = await Promise.all([
          ended(client, holder.id),
          ended(client, queued.id),
        ]);
        samples.add(
          'slot free → next start',
          Date.parse(second.startedAt ?? '') - Date.parse(first.endedAt ?? ''),
        );
      }
    } finally {
      client.agent.destroy();
      await server.dispose();
    }
    return {
      figures: [
        compare(
          'queued job: slot freed → its start (server timestamps, ms resolution)',
          latency(samples.summary('slot free → next start')),
          'direct start: POST → 201',
          latency(samples.summary('direct start')),
        ),
        {
          name: 'POST → 201 of a job that is queued',
          value: latency(samples.summary('queued answer')),
        },
      ],
      details: { rounds, ms: samples.all() },
    };
  },
};

/** Follows the job's output to its end, then reads its final record. */
async function ended(client: ApiClient, id: string): Promise<JobRecord> {
  await consume(await send(client, 'GET', `/v1/jobs/${id}/output?follow=true`).response);
  return (await expectJson<JobRecord>(client, 200, 'GET', `/v1/jobs/${id}`)).body;
}
