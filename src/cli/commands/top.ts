// jobctl top: the running jobs' CPU, memory and output, as `docker stats` shows containers'. On a
// terminal the screen is redrawn every second until Ctrl-C, CPU as a share of one CPU over the
// last second; in a pipe, or with --no-stream, one snapshot (CPU as time used so far).
import { defineCommand } from '../define-command.ts';
import { EXIT } from '../exit-status.ts';
import type { ApiClient } from '../http-client.ts';
import type { JobRecord } from '../job-record.ts';
import { jobPages } from '../job-pages.ts';
import { commandLine, shortId } from '../job-view.ts';
import { print } from '../output.ts';
import { printable } from '../printable.ts';
import { renderTable } from '../table.ts';
import { paint, terminalOf } from '../terminal.ts';

const HELP = `Usage: jobctl top [options]

Show the running jobs you can see with their CPU, memory (now and at its peak) and output. On
a terminal the figures are refreshed every second until Ctrl-C; into a pipe, or with
--no-stream, one snapshot is printed as tab-separated lines without a header:
  ID  OWNER  CPU-MS  MEMORY-BYTES  PEAK-MEMORY-BYTES  OUTPUT-BYTES  COMMAND

Options:
      --no-stream  print one snapshot and exit
  -h, --help       show this help

Examples:
  jobctl top
  jobctl top --no-stream | sort -t "$(printf '\\t')" -k4 -n
`;

const REFRESH_MS = 1000;

/** The usage fields the API fills while a job runs (memoryBytes: the memory held now). */
interface LiveUsage {
  readonly cpuMs?: number;
  readonly peakMemoryBytes?: number;
  readonly memoryBytes?: number | null;
}

export const command = defineCommand({
  name: 'top',
  help: HELP,
  options: { 'no-stream': { type: 'boolean' } },
  // Words after it are ignored, as they always were.
  arguments: { takes: 'words' },
  async run({ values, connect }) {
    const terminal = terminalOf(process.stdout, process.env);
    const client = await connect();
    if (values['no-stream'] === true || !terminal.isTTY) {
      printSnapshot(await runningJobs(client));
      return EXIT.OK;
    }
    return await refreshUntilInterrupted(client);
  },
});

async function runningJobs(client: ApiClient): Promise<JobRecord[]> {
  const jobs: JobRecord[] = [];
  for await (const page of jobPages(client, { status: ['running'], pageSize: 1000 })) {
    jobs.push(...page);
  }
  return jobs;
}

function usageOf(job: JobRecord): LiveUsage {
  return job.usage ?? {};
}

function printSnapshot(jobs: readonly JobRecord[]): void {
  const line = (job: JobRecord): string => {
    const usage = usageOf(job);
    const fields = [
      job.id,
      job.owner,
      String(Math.round(usage.cpuMs ?? 0)),
      usage.memoryBytes == null ? '-' : String(usage.memoryBytes),
      usage.peakMemoryBytes === undefined ? '-' : String(usage.peakMemoryBytes),
      String(job.outputBytes),
      commandLine(job),
    ];
    return fields.map((field) => printable(field)).join('\t');
  };
  if (jobs.length > 0) print(jobs.map(line).join('\n'));
}

/** Redraws every second until Ctrl-C, which only leaves: the jobs are not touched. */
async function refreshUntilInterrupted(client: ApiClient): Promise<number> {
  const terminal = terminalOf(process.stdout, process.env);
  let previous = new Map<string, { cpuMs: number; at: number }>();
  let interrupted = false;
  let wake: () => void = () => undefined;
  const onInterrupt = (): void => {
    interrupted = true;
    wake();
  };
  process.on('SIGINT', onInterrupt);
  try {
    while (!interrupted) {
      const jobs = await runningJobs(client);
      const now = Date.now();
      const seen = new Map<string, { cpuMs: number; at: number }>();
      const rows = jobs.map((job) => {
        const usage = usageOf(job);
        const cpuMs = usage.cpuMs ?? 0;
        seen.set(job.id, { cpuMs, at: now });
        const before = previous.get(job.id);
        const share =
          before === undefined || now <= before.at
            ? '-'
            : `${((100 * (cpuMs - before.cpuMs)) / (now - before.at)).toFixed(1)}%`;
        return [
          shortId(job.id),
          job.owner,
          share,
          usage.memoryBytes == null ? '-' : bytes(usage.memoryBytes),
          usage.peakMemoryBytes === undefined ? '-' : bytes(usage.peakMemoryBytes),
          bytes(job.outputBytes),
          commandLine(job),
        ];
      });
      previous = seen;
      const table = renderTable(
        ['ID', 'OWNER', 'CPU %', 'MEM', 'PEAK MEM', 'OUTPUT', 'COMMAND'],
        rows,
        {
          columns: terminal.columns,
          style: (row, _column, text) => (row === -1 ? paint(terminal, 'bold', text) : text),
        },
      );
      // Home and clear, then the table: one write, so the screen never shows half of it.
      process.stdout.write(`\x1b[H\x1b[2J${table}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, REFRESH_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return EXIT.INTERRUPTED;
}

function bytes(value: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (value >= size) return `${(value / size).toFixed(1)}${unit}`;
  }
  return `${value}B`;
}
