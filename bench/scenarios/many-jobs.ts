// 1,000 concurrent running jobs (`sleep 300`): the memory of the server and of every job
// supervisor together (jobshim and the init it forks into each job's PID namespace), and
// `GET /v1/jobs/{id}` latency while they run. Then every job is stopped and the bench checks that
// each one ended and that no supervisor is left. Whatever happens, nothing is left running: the
// jobs are stopped through the API, and a supervisor still alive after that is killed by its pid.
// The scenario has a fresh server of its own, so the server's memory before is not that of the
// scenarios that ran earlier.
import { totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasEnded } from '../../src/jobs/job-status.ts';
import { SHIM_PATH } from '../../src/launcher/built-programs.ts';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import {
  apiClient,
  expectJson,
  inParallel,
  listAllJobs,
  requestJson,
  startJob,
} from '../lib/http.ts';
import {
  findProcesses,
  memoryOf,
  pssOf,
  ResourceProbe,
  type ProcessInfo,
} from '../lib/process-stats.ts';
import { latency, single } from '../lib/report.ts';
import { Samples } from '../lib/stats.ts';

const MIB = 1024 * 1024;

export const manyJobs: Scenario = {
  name: 'many-jobs',
  title: 'concurrent running jobs',
  async run(context: BenchContext): Promise<ScenarioResult> {
    // A server of its own, so its memory before the jobs is not that of earlier scenarios. One
    // client's running jobs reserve at most its memory total (half the host by default; past it
    // they wait): the bench's one client may have the host's.
    const server = await context.freshServer({
      CLIENT_MEMORY: `${Math.floor(totalmem() / MIB)}MiB`,
    });
    const probe = new ResourceProbe(server.pid);
    probe.start();
    const count = sized(context, 1000, 50);
    const lookups = sized(context, 2000, 200);
    const client = apiClient(server, { maxSockets: 16 });
    const supervisorsOfThisServer = (info: ProcessInfo): boolean =>
      info.argv[0] === SHIM_PATH && info.argv.some((arg) => arg.startsWith(server.dataDir));
    const ids: string[] = [];
    try {
      // Warm-up, so code loaded and compiled on first use is not counted as memory per job.
      for (let index = 0; index < 10; index++) await startJob(client, 'true');
      await sleep(500);
      const rssBefore = memoryOf(server.pid).rssBytes;
      const startedAt = performance.now();
      const startLatency = new Samples();
      await inParallel(
        Array.from({ length: count }, (_, index) => index),
        8,
        async () => {
          const began = performance.now();
          // Each job reserves its memory limit: 1,000 of the default 512 MiB would not fit the
          // host, and all but the first few dozen would queue. 1,000 of 16 MiB need a host with
          // 16 GiB for jobs.
          const job = await startJob(client, 'sleep', ['300'], { limits: { memory: '16M' } });
          startLatency.add('start', performance.now() - began);
          ids.push(job.id);
          if (job.status !== 'running') throw new Error(`job ${job.id} is ${job.status}`);
        },
      );
      const startAllMs = performance.now() - startedAt;

      // Memory with every job running.
      await sleep(1000);
      const supervisors = findProcesses(supervisorsOfThisServer);
      let supervisorRss = 0;
      let supervisorPss = 0;
      for (const { pid } of supervisors) {
        try {
          supervisorRss += memoryOf(pid).rssBytes;
          supervisorPss += pssOf(pid);
        } catch {
          // A supervisor that vanished between the listing and the read: counted as nothing.
        }
      }
      const serverMemory = memoryOf(server.pid);
      const serverRss = serverMemory.rssBytes;

      // Status lookups while they run: one keep-alive connection, random jobs.
      const lookupClient = apiClient(server, { maxSockets: 1 });
      const lookupSamples = new Samples();
      let listed = 0;
      try {
        for (let index = 0; index < lookups + 20; index++) {
          const id = ids[Math.floor(Math.random() * ids.length)] as string;
          const response = await expectJson(lookupClient, 200, 'GET', `/v1/jobs/${id}`);
          if (index >= 20) lookupSamples.add('get', response.ms);
        }
        for (let index = 0; index < sized(context, 20, 3); index++) {
          const response = await expectJson<{ jobs: unknown[] }>(
            lookupClient,
            200,
            'GET',
            '/v1/jobs',
          );
          lookupSamples.add('list', response.ms);
          listed = response.body.jobs.length;
        }
      } finally {
        lookupClient.agent.destroy();
      }

      // Stop them all and check they end.
      const stopStarted = performance.now();
      await inParallel(ids, 16, (id) => expectJson(client, 202, 'POST', `/v1/jobs/${id}/stop`));
      const statuses = await waitForAllEnded(client, ids, 120_000);
      const stopAllMs = performance.now() - stopStarted;
      const leftovers = await waitForNoSupervisors(supervisorsOfThisServer, 30_000);
      const notStopped = Object.values(statuses).filter((status) => status !== 'stopped').length;
      const stoppedIds = [...ids];
      ids.length = 0;

      const perJob = (serverRss - rssBefore + supervisorPss) / count;
      return {
        server: probe.stop(),
        figures: [
          {
            name: `${count} running jobs: server RSS + supervisors' PSS`,
            value: single('MiB', (serverRss + supervisorPss) / MIB),
            note:
              `server ${(serverRss / MIB).toFixed(0)} MiB (was ${(rssBefore / MIB).toFixed(0)}), ` +
              `${supervisors.length} supervisor processes: PSS ${(supervisorPss / MIB).toFixed(0)} MiB, ` +
              `RSS summed ${(supervisorRss / MIB).toFixed(0)} MiB`,
          },
          {
            name: `${count} running jobs: memory per job (server growth + supervisor PSS)`,
            value: single('MiB', perJob / MIB),
          },
          {
            name: `${count} running jobs: GET /v1/jobs/{id}`,
            value: latency(lookupSamples.summary('get')),
          },
          {
            name: `${count} running jobs: GET /v1/jobs (its first page)`,
            value: latency(lookupSamples.summary('list')),
            note: `${listed} jobs on the page`,
          },
          {
            name: `${count} jobs started, 8 at a time: start latency`,
            value: latency(startLatency.summary('start')),
            note: `${((count / startAllMs) * 1000).toFixed(0)} jobs/s`,
          },
          {
            name: `${count} jobs stopped: all ended, no supervisor left`,
            value: single('s', stopAllMs / 1000),
            goal: 'every job ends',
            met: Object.keys(statuses).length === stoppedIds.length && leftovers === 0,
            ...(notStopped === 0 ? {} : { note: `${notStopped} ended other than 'stopped'` }),
          },
        ],
        details: {
          count,
          startAllMs,
          startLatencyMs: startLatency.summary('start'),
          server: {
            rssBeforeBytes: rssBefore,
            rssBytes: serverRss,
            hwmBytes: serverMemory.peakRssBytes,
          },
          supervisors: {
            processes: supervisors.length,
            rssSumBytes: supervisorRss,
            pssSumBytes: supervisorPss,
          },
          lookupMs: lookupSamples.all(),
          stopAllMs,
          leftoverSupervisors: leftovers,
          finalStatuses: countBy(Object.values(statuses)),
        },
      };
    } finally {
      if (ids.length > 0) await cleanUp(client, ids, supervisorsOfThisServer, context);
      client.agent.destroy();
      await server.dispose();
    }
  },
};

/** Polls the job list until every id has ended; returns each id's final status. */
async function waitForAllEnded(
  client: ReturnType<typeof apiClient>,
  ids: readonly string[],
  timeoutMs: number,
): Promise<Record<string, string>> {
  const wanted = new Set(ids);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const jobs = await listAllJobs(client);
    const statuses: Record<string, string> = {};
    let running = 0;
    for (const job of jobs) {
      if (!wanted.has(job.id)) continue;
      if (hasEnded(job.status)) statuses[job.id] = job.status;
      else running += 1;
    }
    if (running === 0) return statuses;
    if (performance.now() > deadline) {
      throw new Error(`${running} of ${ids.length} jobs still running after ${timeoutMs} ms`);
    }
    await sleep(250);
  }
}

async function waitForNoSupervisors(
  matches: (info: ProcessInfo) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = findProcesses(matches).length;
    if (left === 0 || performance.now() > deadline) return left;
    await sleep(200);
  }
}

/** After a failure: stop what is still running, then kill any supervisor of ours that is left. */
async function cleanUp(
  client: ReturnType<typeof apiClient>,
  ids: readonly string[],
  matches: (info: ProcessInfo) => boolean,
  context: BenchContext,
): Promise<void> {
  context.log(`cleaning up ${ids.length} jobs`);
  await inParallel(ids, 16, (id) =>
    requestJson(client, 'POST', `/v1/jobs/${id}/stop`).catch(() => undefined),
  );
  if ((await waitForNoSupervisors(matches, 15_000)) === 0) return;
  for (const { pid } of findProcesses(matches)) {
    try {
      // SIGKILL of a supervisor kills its job too (the job's init has PDEATHSIG).
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
