// Output throughput to one follower of a job writing 1 GiB (`head -c 1G /dev/zero`): one
// `POST /v1/jobs?follow=true` over a keep-alive connection, from the request to the last byte and
// the trailers, every byte checked. Baselines in the same run: the same command's output read from
// a pipe in Node (the physical limit: one copy through the kernel, no disk, no TLS) and
// `ssh host 'head -c 1G /dev/zero'` read the same way. Two more, to locate a gap: curl as the
// follower (how much is Node's TLS client), and a minimal Node.js HTTPS server streaming a file of
// the same size to the same client (lib/ceiling-server.ts: how much is Node's TLS and HTTP stack,
// whatever the server does).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { startCeilingServer } from '../lib/ceiling-server.ts';
import { apiClient, consume, deleteJob, send, type ApiClient } from '../lib/http.ts';
import { timeCommand } from '../lib/command.ts';
import { compare, throughput } from '../lib/report.ts';
import { interleave, Samples } from '../lib/stats.ts';
import { PatternCheck } from '../lib/verify.ts';

const MIB = 1024 * 1024;

export const outputThroughput: Scenario = {
  name: 'throughput',
  title: 'output throughput to one follower',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const server = await context.server();
    const ssh = await context.ssh();
    const bytes = sized(context, 1024 * MIB, 16 * MIB);
    const command = ['head', '-c', String(bytes), '/dev/zero'];
    const client = apiClient(server);
    const curlHeaders = join(context.scratch, 'throughput-curl-headers');
    const curlArgs = [
      '-sS',
      '-D',
      curlHeaders,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_download}',
      '--cacert',
      join(server.certsDir, 'ca.pem'),
      '--cert',
      join(server.certsDir, 'clients', 'alice', 'cert.pem'),
      '--key',
      join(server.certsDir, 'clients', 'alice', 'key.pem'),
      '-H',
      'Content-Type: application/json',
      '-d',
      JSON.stringify({ command: command[0], args: command.slice(1) }),
      `https://localhost:${server.port}/v1/jobs?follow=true`,
    ];
    // The ceiling server streams a file of the job's size, written once, from the page cache.
    const ceilingFile = join(context.scratch, 'ceiling.bin');
    await timeCommand('sh', ['-c', `head -c ${bytes} /dev/zero > '${ceilingFile}'`]);
    const ceiling = await startCeilingServer(server.certsDir, ceilingFile);
    const ceilingClient: ApiClient = { agent: client.agent, port: ceiling.port };
    const variants = ['pipe', 'server', 'server, curl', 'ssh', 'node https ceiling'] as const;
    const runInto = (samples: Samples) => async (variant: (typeof variants)[number]) => {
      switch (variant) {
        case 'pipe':
          samples.add(variant, await readProcess(command, bytes));
          break;
        case 'ssh':
          samples.add(
            variant,
            await readProcess([ssh.sshPath, ...ssh.command(command.join(' '), false)], bytes),
          );
          break;
        case 'server':
          samples.add(variant, await follow(client, command, bytes));
          break;
        case 'node https ceiling':
          samples.add(variant, await download(ceilingClient, bytes));
          break;
        case 'server, curl': {
          const { ms } = await timeCommand('curl', curlArgs, { expectStdout: `201 ${bytes}` });
          samples.add(variant, ms);
          const id = /^job-id: (\S+)/im.exec(readFileSync(curlHeaders, 'utf8'))?.[1];
          if (id !== undefined) await deleteJob(client, id);
          break;
        }
      }
    };
    try {
      await interleave(1, variants, runInto(new Samples()));
      const measured = new Samples();
      await interleave(sized(context, 4, 2), variants, runInto(measured));
      const of = (name: string) => throughput(bytes, measured.summary(name));
      return {
        figures: [
          compare('1 follower (Node client)', of('server'), 'pipe', of('pipe'), {
            text: '≥ 0.5× pipe',
            met: (ratio) => ratio >= 0.5,
          }),
          compare('1 follower (Node client)', of('server'), 'ssh', of('ssh'), {
            text: '≥ 2× ssh',
            met: (ratio) => ratio >= 2,
          }),
          compare(
            '1 follower (Node client)',
            of('server'),
            'Node https ceiling',
            of('node https ceiling'),
            { text: '≥ 0.8× ceiling', met: (ratio) => ratio >= 0.8 },
          ),
          compare(
            'Node https ceiling (minimal server)',
            of('node https ceiling'),
            'pipe',
            of('pipe'),
            {
              text: '≥ 0.5× pipe',
              met: (ratio) => ratio >= 0.5,
            },
          ),
          compare('1 follower (curl)', of('server, curl'), 'pipe', of('pipe'), {
            text: '≥ 0.5× pipe',
            met: (ratio) => ratio >= 0.5,
          }),
          compare('1 follower (curl)', of('server, curl'), 'ssh', of('ssh'), {
            text: '≥ 2× ssh',
            met: (ratio) => ratio >= 2,
          }),
          compare(
            '1 follower (curl)',
            of('server, curl'),
            'Node https ceiling',
            of('node https ceiling'),
            { text: '≥ 0.8× ceiling', met: (ratio) => ratio >= 0.8 },
          ),
        ],
        details: {
          bytes,
          command,
          timesMs: measured.all(),
          note:
            'times run from starting the command (or sending the request) to its last byte; ' +
            'the curl follower opens a new connection; jobs are deleted after each run',
        },
      };
    } finally {
      client.agent.destroy();
      await ceiling.stop();
      rmSync(ceilingFile, { force: true });
    }
  },
};

/** Spawns argv and reads its stdout in this process, checking every byte is a zero. */
async function readProcess(argv: readonly string[], bytes: number): Promise<number> {
  const [file, ...args] = argv;
  const started = performance.now();
  const child = spawn(file as string, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const check = PatternCheck.zeros();
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) check.update(chunk);
  const [code] = (await exited) as [number | null];
  const ms = performance.now() - started;
  if (code !== 0 || !check.complete(bytes)) {
    throw new Error(`${argv.join(' ')}: exit ${code}, ${check.describe(bytes)}`);
  }
  return ms;
}

/** Runs the command as a job and follows it in the same request; returns request → last byte. */
export async function follow(
  client: ApiClient,
  argv: readonly string[],
  bytes: number,
): Promise<number> {
  const [command, ...args] = argv;
  const sent = send(client, 'POST', '/v1/jobs?follow=true', { command, args });
  const response = await sent.response;
  const check = PatternCheck.zeros();
  await consume(response, check);
  const ms = performance.now() - sent.sentAt;
  const id = response.headers['job-id'];
  if (response.statusCode !== 201 || typeof id !== 'string') {
    throw new Error(`POST /v1/jobs?follow=true: ${response.statusCode}`);
  }
  const status = response.trailers['job-status'];
  if (!check.complete(bytes) || status !== 'exited') {
    throw new Error(`follower: ${check.describe(bytes)}, job ${status ?? 'without a status'}`);
  }
  await deleteJob(client, id);
  return ms;
}

/** GETs the ceiling server's file; returns request → last byte. */
async function download(client: ApiClient, bytes: number): Promise<number> {
  const sent = send(client, 'GET', '/');
  const response = await sent.response;
  const check = PatternCheck.zeros();
  await consume(response, check);
  if (response.statusCode !== 200 || !check.complete(bytes)) {
    throw new Error(`ceiling server: ${response.statusCode}, ${check.describe(bytes)}`);
  }
  return performance.now() - sent.sentAt;
}
