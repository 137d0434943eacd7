// Status requests per second: 50 concurrent clients, each on its own keep-alive mutual-TLS
// connection, each asking `GET /v1/jobs/{id}` again as soon as it has its answer, for a fixed time.
// The load generator is this one Node.js process on the same two cores as the server; its CPU time
// is reported beside the figure so a reader can tell which side was the limit.
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { apiClient, requestJson, startJob, type ApiClient } from '../lib/http.ts';
import { ownCpuMs } from '../lib/process-stats.ts';
import { latency, single } from '../lib/report.ts';
import { Samples } from '../lib/stats.ts';

export const statusRps: Scenario = {
  name: 'status-rps',
  title: 'status requests per second, 50 concurrent keep-alive clients',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const server = await context.server();
    const clients = 50;
    const warmupMs = sized(context, 2000, 500);
    const durationMs = sized(context, 15_000, 2000);
    const setup = apiClient(server, { maxSockets: 1 });
    const job = await startJob(setup, 'true');
    setup.agent.destroy();
    const path = `/v1/jobs/${job.id}`;
    const agents: ApiClient[] = Array.from({ length: clients }, () =>
      apiClient(server, { maxSockets: 1 }),
    );
    try {
      await load(agents, path, warmupMs, new Samples());
      const samples = new Samples();
      const cpuBefore = ownCpuMs();
      const result = await load(agents, path, durationMs, samples);
      const benchCpuMs = ownCpuMs() - cpuBefore;
      const perSecond = (result.completed / result.elapsedMs) * 1000;
      return {
        figures: [
          {
            name: `GET /v1/jobs/{id}, ${clients} keep-alive clients: throughput`,
            value: single('req/s', perSecond),
            note: `bench client CPU ${((benchCpuMs / result.elapsedMs) * 100).toFixed(0)}% of one core; ${result.errors} errors`,
          },
          {
            name: `GET /v1/jobs/{id}, ${clients} keep-alive clients: latency`,
            value: latency(samples.summary('get')),
          },
        ],
        details: {
          clients,
          durationMs: result.elapsedMs,
          completed: result.completed,
          errors: result.errors,
          latencyMs: samples.summary('get'),
          benchCpuMs,
        },
      };
    } finally {
      for (const { agent } of agents) agent.destroy();
    }
  },
};

export async function load(
  clients: readonly ApiClient[],
  path: string,
  durationMs: number,
  samples: Samples,
): Promise<{ completed: number; errors: number; elapsedMs: number }> {
  const started = performance.now();
  const deadline = started + durationMs;
  let completed = 0;
  let errors = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        const response = await requestJson(client, 'GET', path);
        if (response.status === 200) {
          completed += 1;
          samples.add('get', response.ms);
        } else {
          errors += 1;
        }
      }
    }),
  );
  return { completed, errors, elapsedMs: performance.now() - started };
}
