// `--format '{{.ID}} {{.Status}}'` and `-o json|wide|name`, as docker and kubectl take them, for
// commands that print jobs (`ps`, `inspect`). A template's placeholders name fields of the job
// as a person reads them; each value is made printable (printable.ts) as every field jobctl
// prints is, so a template cannot let another client's control characters through.
import { UsageError } from './errors.ts';
import type { JobRecord } from './job-record.ts';
import { commandLine, endingOf, shortId, statusText } from './job-view.ts';
import { printable } from './printable.ts';

export const OUTPUT_FORMATS = ['json', 'wide', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** What a `{{.Name}}` placeholder stands for. */
const FIELDS: Readonly<Record<string, (job: JobRecord) => string>> = {
  ID: (job) => job.id,
  ShortID: (job) => shortId(job.id),
  Owner: (job) => job.owner,
  Status: (job) => statusText(job),
  State: (job) => job.status,
  Exit: (job) => endingOf(job) ?? '',
  OOMKilled: (job) => String(job.oomKilled),
  Created: (job) => job.createdAt,
  Command: (job) => commandLine(job),
  Labels: (job) =>
    Object.entries(job.labels)
      .map(([key, value]) => `${key}=${value}`)
      .join(','),
  Error: (job) => job.error ?? '',
  Image: (job) => job.image ?? '',
  Network: (job) => job.network,
};

const PLACEHOLDER = /\{\{\s*\.(\w+)\s*\}\}/g;

/** `-o`'s value, checked. */
export function outputFormatOf(text: string | undefined): OutputFormat | undefined {
  if (text === undefined) return undefined;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(text)) {
    throw new UsageError(`-o expects ${OUTPUT_FORMATS.join(', ')}, not '${text}'`);
  }
  return text as OutputFormat;
}

/** A template's line maker; an unknown placeholder is a usage error before anything is asked. */
export function templateOf(template: string): (job: JobRecord) => string {
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (name === undefined || FIELDS[name] === undefined) {
      throw new UsageError(
        `--format: unknown field '{{.${name ?? ''}}}': one of ${Object.keys(FIELDS).join(', ')}`,
      );
    }
  }
  // Backslash escapes people type in a shell's single quotes, as docker's templates take them.
  const text = template.replaceAll('\\t', '\t').replaceAll('\\n', '\n');
  return (job) =>
    text.replace(PLACEHOLDER, (_match, name: string) => printable(FIELDS[name]?.(job) ?? ''));
}
