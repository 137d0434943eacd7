// What a scenario reports and how the bench prints it: every figure with its baseline from the
// same run, their ratio, the goal and whether it was met, as a table on stdout and as JSON.
import type { ResourceUsage } from './process-stats.ts';
import type { Summary } from './stats.ts';

/** A measured quantity: its median and, where there is one, its bad tail. */
export interface Measured {
  readonly unit: string;
  readonly median: number;
  /** The bad tail: p99 of a latency, the slowest run of a throughput. */
  readonly tail?: number;
  readonly tailLabel?: string;
  readonly n?: number;
}

export interface Figure {
  readonly name: string;
  readonly value: Measured;
  readonly baseline?: { readonly name: string; readonly value: Measured };
  /** value.median / baseline.median. */
  readonly ratio?: number;
  readonly goal?: string;
  /** Undefined when the figure has no goal, only a number to report. */
  readonly met?: boolean;
  readonly note?: string;
}

export interface ScenarioReport {
  readonly name: string;
  readonly title: string;
  readonly figures: Figure[];
  /** The server's CPU time and peak memory during the scenario. */
  readonly server?: ResourceUsage;
  /** The bench process's own CPU time: when it is near the wall time, the client was the limit. */
  readonly benchCpuMs?: number;
  readonly wallMs?: number;
  readonly details: Record<string, unknown>;
  readonly error?: string;
}

export function latency(summary: Summary): Measured {
  return { unit: 'ms', median: summary.p50, tail: summary.p99, tailLabel: 'p99', n: summary.n };
}

/** A throughput from the times of runs that each moved `bytes`: median and slowest run. */
export function throughput(bytes: number, times: Summary): Measured {
  const mibPerSecond = (ms: number): number => bytes / (1024 * 1024) / (ms / 1000);
  return {
    unit: 'MiB/s',
    median: mibPerSecond(times.p50),
    tail: mibPerSecond(times.max),
    tailLabel: 'slowest',
    n: times.n,
  };
}

export function single(unit: string, value: number): Measured {
  return { unit, median: value };
}

export function compare(
  name: string,
  value: Measured,
  baselineName: string,
  baseline: Measured,
  goal?: { text: string; met: (ratio: number) => boolean },
  note?: string,
): Figure {
  const ratio = value.median / baseline.median;
  return {
    name,
    value,
    baseline: { name: baselineName, value: baseline },
    ratio,
    ...(goal === undefined ? {} : { goal: goal.text, met: goal.met(ratio) }),
    ...(note === undefined ? {} : { note }),
  };
}

export function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatMeasured(value: Measured): string {
  const main = `${format(value.median)} ${value.unit}`;
  if (value.tail === undefined) return main;
  return `${main} (${value.tailLabel ?? 'tail'} ${format(value.tail)})`;
}

const MIB = 1024 * 1024;

export function renderTables(reports: readonly ScenarioReport[]): string {
  const rows: string[][] = [['figure', 'value', 'baseline', 'ratio', 'goal', 'met?']];
  for (const report of reports) {
    if (report.error !== undefined) {
      rows.push([`${report.name}: FAILED`, report.error.split('\n')[0] ?? '', '', '', '', 'no']);
    }
    for (const figure of report.figures) {
      rows.push([
        figure.name,
        formatMeasured(figure.value),
        figure.baseline === undefined
          ? ''
          : `${figure.baseline.name}: ${formatMeasured(figure.baseline.value)}`,
        figure.ratio === undefined ? '' : `${format(figure.ratio)}×`,
        figure.goal ?? '',
        figure.met === undefined ? '' : figure.met ? 'yes' : 'NO',
      ]);
    }
  }
  const resources: string[][] = [
    ['scenario', 'wall s', 'server CPU s', 'server peak RSS MiB', 'server RSS MiB', 'bench CPU s'],
  ];
  for (const report of reports) {
    const server = report.server;
    resources.push([
      report.name,
      report.wallMs === undefined ? '' : format(report.wallMs / 1000),
      server === undefined ? '' : format(server.cpuMs / 1000),
      server === undefined ? '' : format(server.peakRssBytes / MIB),
      server === undefined
        ? ''
        : `${format(server.startRssBytes / MIB)} → ${format(server.endRssBytes / MIB)}`,
      report.benchCpuMs === undefined ? '' : format(report.benchCpuMs / 1000),
    ]);
  }
  return `${table(rows)}\n\n${table(resources)}\n`;
}

/** A Markdown table, padded so it also reads as plain text. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: readonly string[]): string =>
    `| ${widths.map((width, column) => (row[column] ?? '').padEnd(width)).join(' | ')} |`;
  const [header, ...body] = rows;
  return [
    line(header ?? []),
    `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`,
    ...body.map(line),
  ].join('\n');
}
