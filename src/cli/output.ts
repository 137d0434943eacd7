// Where jobctl's own words go: results to stdout, messages about what jobctl is doing or why it
// failed to stderr, each prefixed with "jobctl:" so they never pass for a job's output.
import { once } from 'node:events';

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function say(line: string): void {
  process.stderr.write(`jobctl: ${line}\n`);
}

/** As print(), but waits while the reader is behind, so a long listing is never all in memory. */
export async function printPaced(text: string): Promise<void> {
  if (text === '' || process.stdout.write(text)) return;
  await once(process.stdout, 'drain');
}
