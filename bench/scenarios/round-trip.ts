// A remote command's round trip from a shell, a new connection each time: start `true` and wait
// for its end. Ours: one curl call to `POST /v1/jobs?follow=true`, and `jobctl run -f -- true`.
// Baselines: `ssh host true` on a new connection and multiplexed over a ControlMaster.
//
// jobctl is a Node.js program, so Node's start-up counts, and is measured: `node -e 0`, Node
// loading a small TypeScript file, a minimal Node client making the same request (the floor for
// any Node client), and jobctl as installed (bin/jobctl.js, which turns Node's compile cache on
// before the TypeScript loads; the `jobctl` command, bin/jobctl, only adds a sh that picks the
// Node to run it on) against its TypeScript entry run directly, without any compile cache, and
// stripped to JavaScript.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../test/helpers/server.ts';
import { timeCommand } from '../lib/command.ts';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { compare, latency, type Figure } from '../lib/report.ts';
import { interleave, Samples } from '../lib/stats.ts';
import { stripModuleGraph } from '../lib/strip-types.ts';

const TEN_TIMES_FASTER = { text: '≤ 0.1× (10× faster)', met: (ratio: number) => ratio <= 0.1 };
const FIVE_TIMES_FASTER = { text: '≤ 0.2× (5× faster)', met: (ratio: number) => ratio <= 0.2 };
const GOAL_OF = { curl: TEN_TIMES_FASTER, jobctl: FIVE_TIMES_FASTER } as const;

interface Variant {
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly expectStdout?: string;
}

export const roundTrip: Scenario = {
  name: 'round-trip',
  title: 'remote `true` from a shell, new connection each time, vs ssh',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const server = await context.server();
    const ssh = await context.ssh();
    await ssh.startMaster();
    const url = `https://localhost:${server.port}`;
    const ca = join(server.certsDir, 'ca.pem');
    const cert = join(server.certsDir, 'clients', 'alice', 'cert.pem');
    const key = join(server.certsDir, 'clients', 'alice', 'key.pem');
    const node = process.execPath;
    // jobctl as installed: bin/jobctl.js, which turns Node's compile cache on and then loads the
    // TypeScript entry, so that even the entry's stripped code comes from the cache.
    const jobctl = join(ROOT, 'bin', 'jobctl.js');
    const jobctlTs = join(ROOT, 'src', 'cli', 'jobctl.ts');
    const strippedDir = join(context.scratch, 'stripped');
    const jobctlJs = stripModuleGraph(jobctlTs, ROOT, strippedDir);
    const minimalJs = stripModuleGraph(
      join(ROOT, 'bench', 'clients', 'minimal-run.ts'),
      ROOT,
      strippedDir,
    );
    const emptyTs = join(context.scratch, 'empty.ts');
    writeFileSync(emptyTs, 'const nothing: number = 0;\nexport { nothing };\n');
    // A clean environment: no user config for jobctl, and temporary files (where jobctl's compile
    // cache lives by default) in the bench's scratch directory, filled by the warm-up rounds as a
    // user's is after the first run.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: context.scratch,
      TMPDIR: context.scratch,
      JOBCTL_CONFIG: join(context.scratch, 'no-jobctl-config.json'),
    };
    const jobctlArgs = [
      '--server',
      url,
      '--certs-dir',
      server.certsDir,
      '--client',
      'alice',
      'run',
      '-f',
      '--',
      'true',
    ];
    // curl prints only the status; the client's certificate and key as in the README.
    const curlArgs = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', ca];
    curlArgs.push('--cert', cert, '--key', key);
    const variants: Record<string, Variant> = {
      curl: {
        file: 'curl',
        args: [
          ...curlArgs,
          '-H',
          'Content-Type: application/json',
          '-d',
          '{"command":"true"}',
          `${url}/v1/jobs?follow=true`,
        ],
        expectStdout: '201',
      },
      // The floor under any request: a new connection, the handshake, one small answer.
      'curl /healthz': { file: 'curl', args: [...curlArgs, `${url}/healthz`], expectStdout: '200' },
      jobctl: { file: node, args: [jobctl, ...jobctlArgs], env },
      'jobctl --help': { file: node, args: [jobctl, '--help'], env },
      'jobctl ps': { file: node, args: [jobctl, ...jobctlArgs.slice(0, -4), 'ps'], env },
      'jobctl, TypeScript entry (src/cli/jobctl.ts)': {
        file: node,
        args: [jobctlTs, ...jobctlArgs],
        env,
      },
      'jobctl stripped to JavaScript': { file: node, args: [jobctlJs, ...jobctlArgs], env },
      'jobctl, no compile cache': {
        file: node,
        args: [jobctl, ...jobctlArgs],
        env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' },
      },
      'minimal Node client (JavaScript)': {
        file: node,
        args: [minimalJs, url, ca, cert, key, 'true'],
        env,
      },
      'node -e 0': { file: node, args: ['-e', '0'], env },
      'node empty.ts': { file: node, args: [emptyTs], env },
      'ssh, new connection': { file: ssh.sshPath, args: ssh.command('true', false) },
      'ssh, ControlMaster': { file: ssh.sshPath, args: ssh.command('true', true) },
      'spawn /bin/true (bench overhead)': { file: '/bin/true', args: [] },
    };
    const names = Object.keys(variants);
    const runInto = (samples: Samples) => async (name: string) => {
      const variant = variants[name] as Variant;
      const { ms } = await timeCommand(variant.file, variant.args, {
        ...(variant.env === undefined ? {} : { env: variant.env }),
        ...(variant.expectStdout === undefined ? {} : { expectStdout: variant.expectStdout }),
        cwd: context.scratch,
      });
      samples.add(name, ms);
    };
    await interleave(sized(context, 3, 1), names, runInto(new Samples()));
    const measured = new Samples();
    await interleave(sized(context, 40, 5), names, runInto(measured));

    const of = (name: string) => latency(measured.summary(name));
    const sshNew = of('ssh, new connection');
    const sshMux = of('ssh, ControlMaster');
    const jobctlLatency = of('jobctl');
    const figures: Figure[] = [];
    for (const ours of ['curl', 'jobctl'] as const) {
      figures.push(
        compare(`${ours}: run -f true`, of(ours), 'ssh new conn.', sshNew, GOAL_OF[ours]),
        compare(`${ours}: run -f true`, of(ours), 'ssh ControlMaster', sshMux),
      );
    }
    figures.push(
      compare('curl: GET /healthz (any request)', of('curl /healthz'), 'ssh new conn.', sshNew),
      compare('curl: run -f true', of('curl'), 'curl: GET /healthz', of('curl /healthz')),
      compare(
        'minimal Node client (JS): run -f true',
        of('minimal Node client (JavaScript)'),
        'ssh new conn.',
        sshNew,
      ),
      compare('node -e 0 (Node start-up)', of('node -e 0'), 'jobctl', jobctlLatency),
      compare('jobctl --help (no connection)', of('jobctl --help'), 'node -e 0', of('node -e 0')),
      compare('jobctl ps (one GET)', of('jobctl ps'), 'node -e 0', of('node -e 0')),
      compare('node empty.ts (+ TypeScript loader)', of('node empty.ts'), 'jobctl', jobctlLatency),
      compare(
        'jobctl, TypeScript entry (src/cli/jobctl.ts)',
        of('jobctl, TypeScript entry (src/cli/jobctl.ts)'),
        'jobctl',
        jobctlLatency,
      ),
      compare('jobctl, no compile cache', of('jobctl, no compile cache'), 'jobctl', jobctlLatency),
      compare(
        'jobctl stripped to JavaScript',
        of('jobctl stripped to JavaScript'),
        'jobctl',
        jobctlLatency,
      ),
      compare(
        'minimal Node client (JS)',
        of('minimal Node client (JavaScript)'),
        'jobctl',
        jobctlLatency,
      ),
      compare(
        'curl: run -f true',
        of('curl'),
        'bench spawning /bin/true',
        of('spawn /bin/true (bench overhead)'),
      ),
    );
    return {
      figures,
      details: {
        latencyMs: measured.all(),
        commands: Object.fromEntries(
          names.map((name) => [name, [variants[name]?.file, ...(variants[name]?.args ?? [])]]),
        ),
        node: process.version,
        note: 'each figure includes the bench spawning the process: see "spawn /bin/true"',
      },
    };
  },
};
