// Memory and CPU time of processes, read from /proc: what every scenario reports about the server
// and, for the many-jobs scenario, about every job supervisor. The peak is the kernel's own
// high-water mark (VmHWM), which a write of "5" to /proc/PID/clear_refs resets to the current RSS,
// so each scenario gets its own peak without sampling.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const KIB = 1024;

let clockTicks: number | undefined;

/** USER_HZ: the unit of utime and stime in /proc/PID/stat (100 on every Linux build we know). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function statusField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
  return match?.[1] === undefined ? 0 : Number(match[1]) * KIB;
}

export interface MemoryUsage {
  /** Resident set size now. */
  readonly rssBytes: number;
  /** The high-water mark of the RSS since the process started or its last reset. */
  readonly peakRssBytes: number;
}

export function memoryOf(pid: number): MemoryUsage {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssBytes: statusField(status, 'VmRSS'), peakRssBytes: statusField(status, 'VmHWM') };
}

/**
 * Proportional set size: the process's private pages plus its share of pages it shares with
 * others (libc, the supervisor's own text). Summing RSS over a thousand copies of one program
 * counts the shared pages a thousand times; summing PSS does not.
 */
export function pssOf(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const match = /^Pss:\s+(\d+) kB$/m.exec(rollup);
  return match?.[1] === undefined ? 0 : Number(match[1]) * KIB;
}

/** CPU time (user + system) the process itself has used, in milliseconds. */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) are utime and stime; fields[0] here is field 3.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond();
}

/** Resets the process's VmHWM to its current RSS (Linux 4.0+; needs to own it, or root). */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

export interface ProcessInfo {
  readonly pid: number;
  readonly argv: readonly string[];
}

/** Every process whose command line matches; processes that exit while being read are skipped. */
export function findProcesses(matches: (info: ProcessInfo) => boolean): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[argv.length - 1] === '') argv.pop();
    const info = { pid: Number(entry), argv };
    if (matches(info)) found.push(info);
  }
  return found;
}

export interface ResourceUsage {
  /** CPU time the process used during the measurement. */
  readonly cpuMs: number;
  /** Its RSS high-water mark during the measurement. */
  readonly peakRssBytes: number;
  /** Its RSS when the measurement began and ended. */
  readonly startRssBytes: number;
  readonly endRssBytes: number;
  readonly wallMs: number;
}

/** Measures one process's CPU time and peak memory over a stretch of time. */
export class ResourceProbe {
  readonly #pid: number;
  #startCpuMs = 0;
  #startRssBytes = 0;
  #startedAt = 0;

  constructor(pid: number) {
    this.#pid = pid;
  }

  start(): void {
    resetPeak(this.#pid);
    this.#startCpuMs = cpuTimeMs(this.#pid);
    this.#startRssBytes = memoryOf(this.#pid).rssBytes;
    this.#startedAt = performance.now();
  }

  stop(): ResourceUsage {
    const memory = memoryOf(this.#pid);
    return {
      cpuMs: cpuTimeMs(this.#pid) - this.#startCpuMs,
      peakRssBytes: memory.peakRssBytes,
      startRssBytes: this.#startRssBytes,
      endRssBytes: memory.rssBytes,
      wallMs: performance.now() - this.#startedAt,
    };
  }
}

/** This process's own CPU time in milliseconds: the load generator's cost, reported beside. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
