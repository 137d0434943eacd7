// The formats of the files a job's supervisor (native/jobshim.c) reads and writes in the job
// directory: the environment it is handed and the status it leaves. Their names are
// src/jobs/job-directory.ts's.
import { readFileSync, writeFileSync } from 'node:fs';
import { jobFile } from '../jobs/job-directory.ts';

/**
 * The job's environment as jobshim reads it (`--env-file`): NUL-terminated NAME=VALUE entries,
 * readable by root only; jobshim removes the file once it has read it. Written at once: a few
 * hundred bytes into the job's new directory never wait on a disk, where the thread pool's open,
 * write and close were three round trips on every start (issue #38).
 */
export function writeEnvironmentFile(
  dir: string,
  environment: Readonly<Record<string, string>>,
): string {
  const entries = Object.entries(environment).map(([name, value]) => `${name}=${value}\0`);
  if (entries.some((entry) => entry.indexOf('\0') !== entry.length - 1)) {
    throw new Error('environment names and values cannot contain NUL');
  }
  const path = jobFile(dir, 'environment');
  writeFileSync(path, entries.join(''), { mode: 0o600, flag: 'wx' });
  return path;
}

/** status.json as the shim writes it once the job has ended. */
export interface ShimStatus {
  readonly reason: 'exited' | 'stopped' | 'timedout' | 'failed';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly error: string | null;
  readonly startedAt: number | null;
  readonly endedAt: number;
  /** Bytes of output.log. */
  readonly outputBytes: number;
  /** Bytes of output.idx; absent from the status of a supervisor that did not count them. */
  readonly indexBytes?: number;
  readonly outputTruncated: boolean;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  readonly maxRssKb: number;
  /** An egress job's bytes through its veth pair: out of the job, and into it. */
  readonly networkSentBytes?: number;
  readonly networkReceivedBytes?: number;
}

const REASONS = new Set(['exited', 'stopped', 'timedout', 'failed']);

/** The recorded status, or undefined when there is none or it is not a status we understand. */
export function readShimStatus(dir: string): ShimStatus | undefined {
  let text: string;
  try {
    // Read synchronously: a few hundred bytes jobshim has just written, so in the page cache,
    // where the thread pool's open, stat, read and close cost a job's end 1-2 ms here.
    text = readFileSync(jobFile(dir, 'status'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const status = JSON.parse(text) as ShimStatus;
    return REASONS.has(status.reason) && typeof status.endedAt === 'number' ? status : undefined;
  } catch {
    return undefined;
  }
}
