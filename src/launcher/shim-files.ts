// The files a job's supervisor (native/jobshim.c) keeps in the job directory. The C side writes
// them; this module is the one place on the Node side that knows their names and formats.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export function shimFiles(dir: string) {
  return {
    events: join(dir, 'events.fifo'),
    control: join(dir, 'control.fifo'),
    status: join(dir, 'status.json'),
    log: join(dir, 'shim.log'),
  } as const;
}

/** status.json as the shim writes it once the job has ended. */
export interface ShimStatus {
  readonly reason: 'exited' | 'stopped' | 'timedout' | 'failed';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly error: string | null;
  readonly startedAt: number | null;
  readonly endedAt: number;
  readonly outputBytes: number;
  readonly outputTruncated: boolean;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  readonly maxRssKb: number;
}

const REASONS = new Set(['exited', 'stopped', 'timedout', 'failed']);

/** The recorded status, or undefined when there is none or it is not a status we understand. */
export async function readShimStatus(dir: string): Promise<ShimStatus | undefined> {
  let text: string;
  try {
    text = await readFile(shimFiles(dir).status, 'utf8');
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
