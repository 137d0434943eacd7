// How a job reads to a person: a short id, its status with how it ended, its command line quoted
// as a shell would need it, and how long ago it was created.
import type { JobRecord } from './job-record.ts';

/** The first block of the id: 32 random bits, plenty to tell a person's jobs apart. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** What a job its memory limit killed is called where its status is shown, as in Kubernetes. */
export const OOM_KILLED = 'OOMKilled';

/** `exited (0)`, `OOMKilled (SIGKILL)`, `stopped (SIGTERM)`, `queued (2, running-cap)`... */
export function statusText(job: JobRecord): string {
  if (job.status === 'queued' && job.queuePosition !== null) {
    // The reason's code only: its message (`jobctl inspect`) would not fit a table's column.
    const why = job.queueReason === null ? '' : `, ${job.queueReason.code}`;
    return `queued (${job.queuePosition}${why})`;
  }
  const how = endingOf(job);
  const status = job.oomKilled ? OOM_KILLED : job.status;
  return how === undefined ? status : `${status} (${how})`;
}

/** The exit code or signal of an ended job; undefined while it runs or when it never ran. */
export function endingOf(job: JobRecord): string | undefined {
  if (job.exitCode !== null) return String(job.exitCode);
  return job.signal ?? undefined;
}

/** The command line; `…` after it when a listing cut the args (`jobctl inspect` has them all). */
export function commandLine(
  job: Pick<JobRecord, 'command' | 'args'> & { readonly argsTruncated?: true },
): string {
  const line = [job.command, ...job.args].map(shellQuote).join(' ');
  return job.argsTruncated === true ? `${line} …` : line;
}

export function shellQuote(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

const UNITS = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
] as const;

/** "3 minutes ago", as docker ps says it. */
export function age(iso: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (seconds < 1) return 'just now';
  for (const [unit, size] of UNITS) {
    const count = Math.floor(seconds / size);
    if (count >= 1) return `${count} ${unit}${count === 1 ? '' : 's'} ago`;
  }
  return 'just now';
}
