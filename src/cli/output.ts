// Where jobctl's own words go: results to stdout, messages about what jobctl is doing or why it
// failed to stderr, each prefixed with "jobctl:" so they never pass for a job's output. All of it
// is text for reading, so none of it carries a control character a terminal would act on
// (printable.ts); a job's output is written by the commands that follow it, not through here.
import { once } from 'node:events';
import { printable, printableLines, readableJson } from './printable.ts';

export function print(text: string): void {
  const lines = printableLines(text);
  process.stdout.write(lines.endsWith('\n') ? lines : `${lines}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${readableJson(value)}\n`);
}

/** One line: a newline in what it quotes (a server's error) could not pass for a second one. */
export function say(line: string): void {
  process.stderr.write(`jobctl: ${printable(line)}\n`);
}

/** As print(), but waits while the reader is behind, so a long listing is never all in memory. */
export async function printPaced(text: string): Promise<void> {
  if (text === '' || process.stdout.write(printableLines(text))) return;
  await once(process.stdout, 'drain');
}
