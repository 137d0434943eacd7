// What egress costs (issue 33), measured on the supervisor alone as isolation-cost does: the
// job's start with its own network namespace and loopback (`none`) against the same with an
// egress link (the veth pair the supervisor makes, its addresses and route), spawn to `started`;
// the server's own part of an egress start (its /31's file and the resolver file) timed apart.
// Then a job's TCP throughput to a test host through its link and the server's nftables table,
// against the host's own curl of the same bytes. The test host is test/helpers/test-host.ts's,
// number 2 (the egress suite takes 1), in a namespace of its own: nothing leaves the machine.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SHIM_PATH } from '../../src/launcher/built-programs.ts';
import { EgressNetwork } from '../../src/launcher/network/egress-network.ts';
import { jobFile } from '../../src/jobs/job-directory.ts';
import { startTestHost } from '../../test/helpers/test-host.ts';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { compare, latency, single, throughput } from '../lib/report.ts';
import { interleave, Samples } from '../lib/stats.ts';

const TEST_HOST = 2;
const NONE = 'job start, own netns with lo (none)';
const EGRESS = 'job start, egress link (veth pair, addresses, route)';
const SERVER_PART = "egress: the server's part (a /31, the resolver file, given back)";
const HOST_CURL = "the host's own curl to the test host";
const JOB_CURL = 'an egress job’s curl, through its link and the nftables table';

export const egress: Scenario = {
  name: 'egress',
  title: "what egress adds to a job's start, and a job's TCP throughput through it",
  usesServer: false,
  async run(context: BenchContext): Promise<ScenarioResult> {
    if (process.getuid?.() !== 0) throw new Error('needs root: namespaces, veth pairs, nftables');
    const dir = join(context.scratch, 'egress');
    mkdirSync(dir, { recursive: true });
    const testHost = await startTestHost(TEST_HOST);
    const network = new EgressNetwork({
      dataDir: dir,
      policy: {
        jobCidr: '10.200.0.0/16',
        allow: [{ cidr: `${testHost.address}/32` }],
        dns: [testHost.address],
        testPublic: [],
      },
    });
    try {
      const ready = await network.start();
      if (!ready.ready) throw new Error(`egress is unavailable: ${ready.why}`);
      const startOf = (samples: Samples) => (variant: typeof NONE | typeof EGRESS) =>
        runJob(samples, variant, dir, variant === EGRESS ? network : undefined, ['true']);
      // A warm-up, its figures dropped: the first egress job installs the table.
      await interleave(sized(context, 3, 1), [NONE, EGRESS], startOf(new Samples()));
      const measured = new Samples();
      await interleave(sized(context, 60, 5), [NONE, EGRESS], startOf(measured));

      const bytes = sized(context, 256 * 1024 ** 2, 8 * 1024 ** 2);
      const url = `http://${testHost.address}:${testHost.ports[0]}/bytes/${bytes}`;
      const curl = ['curl', '-sf', '-o', '/dev/null', url];
      await interleave(sized(context, 5, 1), [HOST_CURL, JOB_CURL], async (variant) => {
        if (variant === HOST_CURL) measured.add(variant, await timeCommand(curl));
        else await runJob(measured, variant, dir, network, curl, 'exit');
      });

      const none = measured.summary(NONE);
      const withEgress = measured.summary(EGRESS);
      const serverPart = measured.summary(SERVER_PART);
      const added = withEgress.p50 - none.p50 + serverPart.p50;
      return {
        figures: [
          compare(EGRESS, latency(withEgress), NONE, latency(none)),
          { name: SERVER_PART, value: latency(serverPart) },
          {
            name: "what egress adds to a job's start (p50: supervisor's difference + server's part)",
            value: single('ms', added),
            goal: '≤ 5 ms',
            met: added <= 5,
          },
          compare(
            JOB_CURL,
            throughput(bytes, measured.summary(JOB_CURL)),
            HOST_CURL,
            throughput(bytes, measured.summary(HOST_CURL)),
          ),
        ],
        details: { testHost: testHost.address, bytes, latencyMs: measured.all() },
      };
    } finally {
      await network.close();
      await testHost.close();
    }
  },
};

/**
 * Spawns the supervisor for one job, with the server's egress arguments when `network` is given,
 * and times it to its `started` report (or to its exit, for a job whose work is timed).
 */
async function runJob(
  samples: Samples,
  variant: string,
  dir: string,
  network: EgressNetwork | undefined,
  command: readonly string[],
  until: 'started' | 'exit' = 'started',
): Promise<void> {
  const id = randomUUID();
  const jobDir = join(dir, id);
  mkdirSync(jobDir, { mode: 0o700 });
  const args = ['--dir', jobDir, '--events', jobFile(jobDir, 'events')];
  args.push('--control', jobFile(jobDir, 'control'), '--pidns', '--netns');
  let serverMs = 0;
  if (network !== undefined) {
    const prepared = performance.now();
    args.push(...(await network.prepare(id, jobDir)));
    serverMs = performance.now() - prepared;
  }
  args.push('--cwd', '/', '--max-output', String(1024 ** 2), '--', ...command);
  try {
    const started = performance.now();
    const shim = spawn(SHIM_PATH, args, { stdio: ['ignore', 'pipe', 'ignore'], env: {} });
    const exited = once(shim, 'exit');
    const report = await firstLine(shim.stdout);
    if (!report.startsWith('started ')) throw new Error(`jobshim (${variant}): ${report}`);
    if (until === 'started') samples.add(variant, performance.now() - started);
    await exited;
    if (until === 'exit') samples.add(variant, performance.now() - started);
  } finally {
    if (network !== undefined) {
      const released = performance.now();
      await network.release(id, jobDir);
      serverMs += performance.now() - released;
      if (until === 'started') samples.add(SERVER_PART, serverMs);
    }
  }
}

async function timeCommand(command: readonly string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(command[0] ?? 'true', command.slice(1), { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${command.join(' ')} exited ${code}`);
  return performance.now() - started;
}

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  const lines = createInterface({ input: stream });
  try {
    for await (const line of lines) return line;
    return '(no report)';
  } finally {
    lines.close();
  }
}
