// Job start latency over one keep-alive mutual-TLS connection: `POST /v1/jobs` for `true`, from
// the request being written to the `201`, which the server sends once the job's command has been
// exec'd. Baseline: Node's own `child_process.spawn` of the same command, to its 'spawn' event
// (also after exec), in this process. The server is measured twice, as root (cgroups, PID, mount
// and network namespaces, user switch) and as an unprivileged user (none of them), so the cost of
// isolation is reported apart from the cost of the server itself.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { apiClient, consume, send, type ApiClient } from '../lib/http.ts';
import { compare, latency, single } from '../lib/report.ts';
import { interleave, Samples } from '../lib/stats.ts';

const COMMAND = 'true';

export const startLatency: Scenario = {
  name: 'start-latency',
  title: 'job start latency over one keep-alive mutual-TLS connection',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const root = await context.server();
    const unprivileged = await context.unprivilegedServer();
    const clients = {
      root: apiClient(root, { maxSockets: 1 }),
      unprivileged: apiClient(unprivileged, { maxSockets: 1 }),
    };
    const variants = ['spawn', 'root', 'unprivileged'] as const;
    const measureInto =
      (samples: Samples) =>
      async (variant: (typeof variants)[number]): Promise<void> => {
        if (variant === 'spawn') {
          const { execMs, exitMs } = await bareSpawn(COMMAND);
          samples.add('spawn', execMs);
          samples.add('spawn-to-exit', exitMs);
        } else {
          samples.add(variant, await startJob(clients[variant]));
        }
      };
    const measured = new Samples();
    try {
      // Warm-up: TLS handshakes, JIT, the page cache, the database's first pages.
      await interleave(sized(context, 10, 3), variants, measureInto(new Samples()));
      await interleave(sized(context, 300, 20), variants, measureInto(measured));
      const spawnLatency = latency(measured.summary('spawn'));
      const rootLatency = latency(measured.summary('root'));
      const unprivilegedLatency = latency(measured.summary('unprivileged'));
      return {
        figures: [
          compare(
            'job start, no isolation (server unprivileged)',
            unprivilegedLatency,
            'bare spawn',
            spawnLatency,
            { text: 'p50 < 2× bare spawn', met: (ratio) => ratio < 2 },
          ),
          compare(
            'job start, full isolation and sandbox (server as root, as deployed)',
            rootLatency,
            'bare spawn',
            spawnLatency,
            { text: 'p50 < 2× bare spawn', met: (ratio) => ratio < 2 },
          ),
          {
            name: 'cost of isolation (root − unprivileged, p50)',
            value: single('ms', rootLatency.median - unprivilegedLatency.median),
            note: 'cgroups, PID/mount/network namespaces and the user switch; see isolation-cost',
          },
        ],
        details: {
          command: COMMAND,
          latencyMs: measured.all(),
          protections: { root: root.protections, unprivileged: unprivileged.protections },
          bareSpawn: "child_process.spawn('true') in the bench process, to its 'spawn' event",
        },
      };
    } finally {
      clients.root.agent.destroy();
      clients.unprivileged.agent.destroy();
    }
  },
};

/** Spawn → 'spawn' (the command has been exec'd) and spawn → exit, in milliseconds. */
export async function bareSpawn(command: string): Promise<{ execMs: number; exitMs: number }> {
  const started = performance.now();
  const child = spawn(command, [], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  await once(child, 'spawn');
  const execMs = performance.now() - started;
  await exited;
  return { execMs, exitMs: performance.now() - started };
}

/** Request written → `201`; the job's record is read to its end so the connection is reused. */
export async function startJob(client: ApiClient): Promise<number> {
  const sent = send(client, 'POST', '/v1/jobs', { command: COMMAND });
  const response = await sent.response;
  const ms = performance.now() - sent.sentAt;
  await consume(response);
  if (response.statusCode !== 201) throw new Error(`POST /v1/jobs: ${response.statusCode}`);
  return ms;
}
