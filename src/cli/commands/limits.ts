// jobctl limits: what your role may ask for when it starts a job on this server (GET /v1/limits),
// laid out for reading: ceilings, defaults, your client's totals and output budget, sandboxes,
// networks.
import type { Limits } from '../../contract/limits.ts';
import { defineCommand } from '../define-command.ts';
import { EXIT } from '../exit-status.ts';
import { print, printJson } from '../output.ts';

const HELP = `Usage: jobctl limits [options]

Show what your role may ask for when it starts a job on this server: the most a job may ask
(ceiling), what it gets when it asks nothing (default), what your running jobs may use
together, your output budget and the filesystems you may choose. '-' means not limited.

Options:
      --json   the server's answer (GET /v1/limits) as JSON
  -h, --help   show this help

Examples:
  jobctl limits
  jobctl limits --json | jq .ceilings
`;

type LimitValues = Readonly<Record<string, number | undefined>>;

export const command = defineCommand({
  name: 'limits',
  help: HELP,
  options: { json: { type: 'boolean' } },
  // Words after it are ignored, as they always were.
  arguments: { takes: 'words' },
  async run({ values, connect }) {
    const client = await connect();
    const limits = await client.json<Limits>('GET', '/v1/limits');
    if (values.json === true) printJson(limits);
    else print(describeLimits(limits));
    return EXIT.OK;
  },
});

const KINDS = [
  ['cpus', 'CPUs', (value: number) => String(value)],
  ['memoryBytes', 'memory', bytes],
  ['pids', 'processes', (value: number) => String(value)],
  ['ioReadBytesPerSecond', 'disk reads', (value: number) => `${bytes(value)}/s`],
  ['ioWriteBytesPerSecond', 'disk writes', (value: number) => `${bytes(value)}/s`],
] as const;

function describeLimits(limits: Limits): string {
  const ceilings = limits.ceilings.limits as LimitValues;
  const defaults = limits.defaults.limits as LimitValues;
  const totals = limits.clientTotals as LimitValues;
  const shown = (value: number | undefined, as: (value: number) => string): string =>
    value === undefined ? '-' : as(value);
  const rows = KINDS.map(([key, label, as]) => [
    label,
    shown(ceilings[key], as),
    shown(defaults[key], as),
    shown(totals[key], as),
  ]);
  const timeout = (ms: number | null): string => (ms === null ? '-' : `${ms / 1000}s`);
  rows.push([
    'timeout',
    timeout(limits.ceilings.timeoutMs),
    timeout(limits.defaults.timeoutMs),
    '-',
  ]);
  const table = [['', 'CEILING', 'DEFAULT', 'YOUR TOTAL'], ...rows]
    .map((row) => row.map((cell, index) => (index === 3 ? cell : cell.padEnd(12))).join(' '))
    .join('\n');
  const sandboxes = [
    limits.sandbox.private ? 'private' : undefined,
    limits.sandbox.host ? 'host (--host-fs)' : undefined,
  ].filter((name) => name !== undefined);
  const networks = [
    'none',
    limits.network.egress ? 'egress' : undefined,
    limits.network.host ? 'host' : undefined,
  ].filter((name) => name !== undefined);
  return [
    `Role: ${limits.role}${limits.mayStart ? '' : ' (may not start jobs)'}`,
    table,
    `Output budget: ${limits.outputBudgetBytes === null ? '-' : bytes(limits.outputBudgetBytes)}`,
    `Filesystems: ${sandboxes.join(', ')} (default ${limits.sandbox.default})`,
    `Networks: ${networks.join(', ')} (--network; default ${limits.network.default})`,
    `Enforced here: ${limits.enforceableLimits.join(', ')}`,
  ].join('\n');
}

/** Binary units, as --memory takes them. */
function bytes(value: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (value >= size) return `${Number((value / size).toFixed(1))} ${unit}`;
  }
  return `${value} B`;
}
