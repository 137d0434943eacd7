// What a change to src/ would do, measured before it is made: copies the project's src/ to a
// temporary directory, applies one of the changes bench/README.md proposes, and runs the server
// as it is and the changed copy side by side, alternating, with the same client.
//   node bench/what-if.ts read-size               1 GiB to one follower, 1 MiB reads
//   node bench/what-if.ts peer-certificate-cache  status requests, 50 clients
// A change whose target text is no longer in src/ is refused rather than measured wrongly.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../test/helpers/server.ts';
import { apiClient, startJob, type ApiClient } from './lib/http.ts';
import { cpuTimeMs } from './lib/process-stats.ts';
import { format, table } from './lib/report.ts';
import { startBenchServer, type BenchServer } from './lib/server.ts';
import { Samples, shuffled } from './lib/stats.ts';
import { load } from './scenarios/status-rps.ts';
import { follow } from './scenarios/throughput.ts';

interface Edit {
  readonly file: string;
  readonly from: string;
  readonly to: string;
}

interface Measurement {
  /** The figure, higher is better. */
  readonly value: number;
  readonly unit: string;
  /** Server CPU per unit of work, lower is better. */
  readonly cpu: number;
  readonly cpuUnit: string;
}

interface WhatIf {
  readonly description: string;
  readonly edits: readonly Edit[];
  readonly rounds: number;
  measure(server: BenchServer): Promise<Measurement>;
}

const GIB = 1024 ** 3;

const PEER_CERTIFICATE_CACHE = `
const peerCertificates = new WeakMap<TLSSocket, ReturnType<TLSSocket['getPeerCertificate']>>();

/** The client's certificate, converted once per connection: it cannot change on a TLS 1.3 one. */
export function peerCertificate(socket: TLSSocket): ReturnType<TLSSocket['getPeerCertificate']> {
  let certificate = peerCertificates.get(socket);
  if (certificate === undefined) {
    certificate = socket.getPeerCertificate();
    peerCertificates.set(socket, certificate);
  }
  return certificate;
}
`;

const WHAT_IFS: Record<string, WhatIf> = {
  'read-size': {
    description: 'output readers read up to 1 MiB at a time instead of 64 KiB',
    edits: [
      {
        file: 'src/worker/output-stream.ts',
        from: 'const chunk = await source.next(Math.max(size, CHUNK_BYTES));',
        to: 'const chunk = await source.next(Math.max(size, 1024 * 1024));',
      },
    ],
    rounds: 4,
    async measure(server) {
      const client = apiClient(server, { maxSockets: 1 });
      try {
        const cpuBefore = cpuTimeMs(server.pid);
        const ms = await follow(client, ['head', '-c', String(GIB), '/dev/zero'], GIB);
        return {
          value: 1024 / (ms / 1000),
          unit: 'MiB/s',
          cpu: (cpuTimeMs(server.pid) - cpuBefore) / 1000,
          cpuUnit: 'CPU s per GiB',
        };
      } finally {
        client.agent.destroy();
      }
    },
  },
  'peer-certificate-cache': {
    description: 'the client certificate is read once per connection, not on every request',
    edits: [
      {
        file: 'src/api/middleware/identity.ts',
        from: 'socket.authorized ? socket.getPeerCertificate() : undefined',
        to: 'socket.authorized ? peerCertificate(socket) : undefined',
      },
      {
        file: 'src/api/middleware/identity.ts',
        from: 'export function identify(',
        to: `${PEER_CERTIFICATE_CACHE}\nexport function identify(`,
      },
      {
        file: 'src/api/middleware/audit-trail.ts',
        from: '(ctx.req.socket as TLSSocket).getPeerCertificate()',
        to: 'peerCertificate(ctx.req.socket as TLSSocket)',
      },
      {
        file: 'src/api/middleware/audit-trail.ts',
        from: "import type { AppContext } from '../state.ts';",
        to: "import type { AppContext } from '../state.ts';\nimport { peerCertificate } from './identity.ts';",
      },
    ],
    rounds: 4,
    async measure(server) {
      const setup = apiClient(server, { maxSockets: 1 });
      const job = await startJob(setup, 'true');
      setup.agent.destroy();
      const clients: ApiClient[] = Array.from({ length: 50 }, () =>
        apiClient(server, { maxSockets: 1 }),
      );
      try {
        const cpuBefore = cpuTimeMs(server.pid);
        const result = await load(clients, `/v1/jobs/${job.id}`, 5000, new Samples());
        return {
          value: (result.completed / result.elapsedMs) * 1000,
          unit: 'req/s',
          cpu: (cpuTimeMs(server.pid) - cpuBefore) / result.completed,
          cpuUnit: 'CPU ms per request',
        };
      } finally {
        for (const { agent } of clients) agent.destroy();
      }
    },
  },
};

/** A copy of the project's src/ with the edits applied; node_modules and build/ are linked. */
function patchedCopy(edits: readonly Edit[]): string {
  const root = mkdtempSync(join(tmpdir(), 'jobworker-what-if-'));
  cpSync(join(ROOT, 'src'), join(root, 'src'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  symlinkSync(join(ROOT, 'build'), join(root, 'build'));
  for (const edit of edits) {
    const path = join(root, edit.file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(edit.from)) {
      rmSync(root, { recursive: true, force: true });
      throw new Error(`${edit.file} no longer contains '${edit.from}': update bench/what-if.ts`);
    }
    writeFileSync(path, text.replace(edit.from, edit.to));
  }
  return root;
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? '';
  const whatIf = WHAT_IFS[name];
  if (whatIf === undefined) {
    process.stderr.write(`usage: node bench/what-if.ts ${Object.keys(WHAT_IFS).join('|')}\n`);
    process.exitCode = 2;
    return;
  }
  const root = patchedCopy(whatIf.edits);
  const servers: BenchServer[] = [];
  try {
    const original = await startBenchServer();
    servers.push(original);
    const changed = await startBenchServer({ root, certsFrom: original.certsDir });
    servers.push(changed);
    const variants = { 'as it is': original, changed } as const;
    const values = new Samples();
    const cpu = new Samples();
    let unit = '';
    let cpuUnit = '';
    // One warm-up round, then alternating rounds in random order.
    for (let round = 0; round <= whatIf.rounds; round++) {
      for (const variant of shuffled(Object.keys(variants) as (keyof typeof variants)[])) {
        const measurement = await whatIf.measure(variants[variant]);
        process.stderr.write(`${variant}: ${format(measurement.value)} ${measurement.unit}\n`);
        if (round === 0) continue;
        values.add(variant, measurement.value);
        cpu.add(variant, measurement.cpu);
        ({ unit, cpuUnit } = measurement);
      }
    }
    const rows = [['server', `${unit} (median)`, `${cpuUnit} (median)`]];
    for (const variant of Object.keys(variants)) {
      rows.push([variant, format(values.summary(variant).p50), format(cpu.summary(variant).p50)]);
    }
    const ratio = values.summary('changed').p50 / values.summary('as it is').p50;
    process.stdout.write(
      `\n${name}: ${whatIf.description}\n\n${table(rows)}\n\nchanged / as it is: ${format(ratio)}×\n`,
    );
  } finally {
    for (const server of servers) await server.dispose();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
