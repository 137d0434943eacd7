// jobctl ps: the jobs the caller can see, newest first. Like `docker ps`, only jobs that have not
// ended unless --all. A table on a terminal; tab-separated lines for a pipe; JSON with --json.
import { defineCommand } from '../define-command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { JOB_STATUSES, UNFINISHED_STATUSES, type JobStatus } from '../../jobs/job-status.ts';
import type { JobRecord } from '../job-record.ts';
import { age, commandLine, endingOf, shortId, statusText } from '../job-view.ts';
import { jobPages, type JobQuery } from '../job-pages.ts';
import { printPaced } from '../output.ts';
import { printable, readableJson } from '../printable.ts';
import { outputFormatOf, templateOf } from '../job-format.ts';
import { OOM_KILLED } from '../job-view.ts';
import { sinceTime } from '../since-time.ts';
import { renderTable } from '../table.ts';
import { paint, terminalOf, type Color, type Terminal } from '../terminal.ts';

const HELP = `Usage: jobctl ps [options]

List jobs, newest first: those that have not ended yet, or every job with --all. Users see
their own jobs; admins and auditors see everyone's. Jobs are fetched a page at a time and
printed as they come.

Options:
  -a, --all              every job, ended ones too
      --status STATUS    only jobs with this status, or these (comma-separated):
                         ${JOB_STATUSES.join(', ')}
  -l, --label KEY=VALUE  only jobs with this label (repeatable: all must match)
      --since TIME       only jobs created since TIME: ISO 8601 (2026-11-30T08:00:00Z) or a
                         time ago (90s, 10m, 2h, 7d)
  -n, --limit N          at most N jobs
  -q, --quiet            only the ids, one a line (also -o name)
      --json             the jobs as a JSON array of job records (also -o json)
  -o, --output FORMAT    json; name (the ids); wide (a table with exit, labels and error too)
      --format TEMPLATE  one line a job from TEMPLATE, e.g. '{{.ID}}\t{{.Status}}', with the
                         fields ID, ShortID, Owner, Status, State, Exit, OOMKilled, Created,
                         Command, Labels, Error, Image, Network
  -h, --help             show this help

On a terminal, jobs are shown as a table with short ids. When the output is piped, each job is
one line of tab-separated fields, without a header:
  ID  OWNER  STATUS  EXIT (code, signal or -)  CREATED (ISO 8601)  COMMAND
STATUS is the job's status, or OOMKilled for a job its memory limit killed (as Kubernetes says).

Examples:
  jobctl ps
  jobctl ps -a --status exited,failed --since 1d
  jobctl ps -a --label pipeline=4711
  jobctl ps -aq --status exited | xargs -r jobctl rm
  jobctl ps --all --json
  jobctl ps -a --format '{{.ShortID}} {{.Status}} {{.Command}}'
`;

const STATUS_COLORS: Readonly<Partial<Record<JobStatus, Color>>> = {
  queued: 'blue',
  running: 'green',
  starting: 'blue',
  stopping: 'yellow',
  stopped: 'yellow',
  timedout: 'red',
  failed: 'red',
  lost: 'red',
};

/** Jobs asked for per page: the server's most, as a listing is read to its end. */
const PAGE_SIZE = 1000;

export const command = defineCommand({
  name: 'ps',
  help: HELP,
  options: {
    all: { type: 'boolean', short: 'a' },
    status: { type: 'string' },
    label: { type: 'string', short: 'l', multiple: true },
    since: { type: 'string' },
    limit: { type: 'string', short: 'n' },
    quiet: { type: 'boolean', short: 'q' },
    json: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
    format: { type: 'string' },
  },
  arguments: { takes: 'nothing' },
  async run({ values, connect }) {
    const limit = values.limit === undefined ? Infinity : positiveCount('--limit', values.limit);
    const query: JobQuery = {
      status: statusesOf(values.status, values.all === true),
      ...(values.label === undefined ? {} : { labels: values.label }),
      ...(values.since === undefined
        ? {}
        : { since: sinceTime('--since', values.since, new Date()) }),
      pageSize: Math.min(PAGE_SIZE, limit),
    };
    const client = await connect();
    const view = viewFor(values);
    let shown = 0;
    for await (const page of jobPages(client, query)) {
      const jobs = page.slice(0, limit - shown);
      shown += jobs.length;
      await view.add(jobs);
      if (shown >= limit) break;
    }
    await view.end();
    return EXIT.OK;
  },
});

/** The statuses asked of the server: those given, or without --all those not ended yet. */
function statusesOf(text: string | undefined, all: boolean): readonly string[] {
  if (text === undefined) return all ? [] : [...UNFINISHED_STATUSES];
  const statuses = text.split(',');
  for (const status of statuses) {
    if (!(JOB_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`unknown status '${status}': one of ${JOB_STATUSES.join(', ')}`);
    }
  }
  return statuses;
}

function positiveCount(option: string, text: string): number {
  const count = Number(text);
  if (!/^[0-9]+$/.test(text) || count < 1) {
    throw new UsageError(`${option} expects a whole number of at least 1, not '${text}'`);
  }
  return count;
}

/** Where listed jobs go, a page at a time. */
interface View {
  add(jobs: readonly JobRecord[]): Promise<void> | void;
  end(): Promise<void> | void;
}

function viewFor(values: {
  json?: boolean;
  quiet?: boolean;
  output?: string;
  format?: string;
}): View {
  const output = outputFormatOf(values.output);
  if (values.format !== undefined) return linesView(templateOf(values.format));
  if (values.json === true || output === 'json') return jsonArrayView();
  if (values.quiet === true || output === 'name') return linesView((job) => job.id);
  const terminal = terminalOf(process.stdout, process.env);
  if (output === 'wide') return gathered((all) => printJobs(all, terminal, true));
  if (!terminal.isTTY) return linesView(tsvLine);
  return gathered((all) => printJobs(all, terminal, false));
}

/** A table is laid out over all its rows: its jobs are gathered first. */
function gathered(print: (all: readonly JobRecord[]) => void): View {
  const all: JobRecord[] = [];
  return {
    add: (jobs) => {
      all.push(...jobs);
    },
    end: () => print(all),
  };
}

function linesView(line: (job: JobRecord) => string): View {
  return {
    add: (jobs) => printPaced(jobs.map((job) => `${line(job)}\n`).join('')),
    end: () => undefined,
  };
}

/** The same bytes as printJson(jobs) would write for all of them at once. */
function jsonArrayView(): View {
  let count = 0;
  return {
    add: (jobs) => {
      const items = jobs.map((job) => {
        const item = readableJson(job).replaceAll('\n', '\n  ');
        return `${count++ === 0 ? '[\n  ' : ',\n  '}${item}`;
      });
      return printPaced(items.join(''));
    },
    end: () => printPaced(count === 0 ? '[]\n' : '\n]\n'),
  };
}

function printJobs(jobs: readonly JobRecord[], terminal: Terminal, wide: boolean): void {
  const now = Date.now();
  const rows = jobs.map((job) => [
    wide ? job.id : shortId(job.id),
    job.owner,
    statusText(job),
    age(job.createdAt, now),
    ...(wide ? wideFields(job) : []),
    commandLine(job),
  ]);
  const headers = ['ID', 'OWNER', 'STATUS', 'CREATED', ...(wide ? WIDE_HEADERS : []), 'COMMAND'];
  process.stdout.write(
    renderTable(headers, rows, {
      columns: terminal.columns,
      style: (row, column, text) => {
        if (row === -1) return paint(terminal, 'bold', text);
        const job = jobs[row];
        const color = job === undefined ? undefined : STATUS_COLORS[job.status];
        if (column === 2 && job?.oomKilled === true) return paint(terminal, 'red', text);
        if (column === 2 && color !== undefined) return paint(terminal, color, text);
        if (column === 2 && job?.status === 'exited' && job.exitCode !== 0) {
          return paint(terminal, 'red', text);
        }
        return text;
      },
    }),
  );
}

const WIDE_HEADERS = ['LABELS', 'ERROR'];

function wideFields(job: JobRecord): string[] {
  const labels = Object.entries(job.labels).map(([key, value]) => `${key}=${value}`);
  return [labels.join(',') || '-', job.error ?? '-'];
}

function tsvLine(job: JobRecord): string {
  // Each field printable on its own: a tab or newline inside a command line would break the
  // fields, any other control character would reach whatever terminal the pipe ends in.
  const status = job.oomKilled ? OOM_KILLED : job.status;
  const fields = [job.id, job.owner, status, endingOf(job) ?? '-', job.createdAt];
  return [...fields, commandLine(job)].map((field) => printable(field)).join('\t');
}
