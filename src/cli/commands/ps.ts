// jobctl ps: the jobs the caller can see, newest first. Like `docker ps`, only jobs that have not
// ended unless --all. A table on a terminal; tab-separated lines for a pipe; JSON with --json.
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { ACTIVE_STATUSES, JOB_STATUSES, type JobRecord, type JobStatus } from '../job-record.ts';
import { age, commandLine, endingOf, shortId, statusText } from '../job-view.ts';
import { parseCommandLine, withConnection } from '../options.ts';
import { print, printJson } from '../output.ts';
import { connect } from '../session.ts';
import { renderTable } from '../table.ts';
import { paint, terminalOf, type Color, type Terminal } from '../terminal.ts';

const OPTIONS = withConnection({
  all: { type: 'boolean', short: 'a' },
  status: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
});

const HELP = `Usage: jobctl ps [options]

List jobs, newest first: those that have not ended yet, or every job with --all. Users see
their own jobs; admins and auditors see everyone's.

Options:
  -a, --all            every job, ended ones too
      --status STATUS  only jobs with this status: ${JOB_STATUSES.join(', ')}
  -q, --quiet          only the ids, one a line
      --json           the jobs as a JSON array of job records
  -h, --help           show this help

On a terminal, jobs are shown as a table with short ids. When the output is piped, each job is
one line of tab-separated fields, without a header:
  ID  OWNER  STATUS  EXIT (code, signal or -)  CREATED (ISO 8601)  COMMAND

Examples:
  jobctl ps
  jobctl ps -a --status exited
  jobctl ps -aq --status exited | xargs -r jobctl rm
  jobctl ps --all --json
`;

const STATUS_COLORS: Readonly<Partial<Record<JobStatus, Color>>> = {
  running: 'green',
  starting: 'blue',
  stopping: 'yellow',
  stopped: 'yellow',
  timedout: 'red',
  failed: 'red',
  lost: 'red',
};

export const command: Command = {
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandLine('ps', args, OPTIONS);
    if (values.help) {
      print(HELP);
      return EXIT.OK;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const status = values.status;
    if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`unknown status '${status}': one of ${JOB_STATUSES.join(', ')}`);
    }
    const client = await connect(values);
    let jobs: JobRecord[];
    try {
      const query = status === undefined ? '' : `?status=${status}`;
      ({ jobs } = await client.json<{ jobs: JobRecord[] }>('GET', `/v1/jobs${query}`));
    } finally {
      client.close();
    }
    if (values.all !== true && status === undefined) {
      jobs = jobs.filter((job) => ACTIVE_STATUSES.has(job.status));
    }
    if (values.json === true) printJson(jobs);
    else if (values.quiet === true) print(jobs.map((job) => `${job.id}\n`).join(''));
    else printJobs(jobs, terminalOf(process.stdout, process.env));
    return EXIT.OK;
  },
};

function printJobs(jobs: readonly JobRecord[], terminal: Terminal): void {
  if (!terminal.isTTY) {
    if (jobs.length > 0) print(jobs.map((job) => `${tsvLine(job)}\n`).join(''));
    return;
  }
  const now = Date.now();
  const rows = jobs.map((job) => [
    shortId(job.id),
    job.owner,
    statusText(job),
    age(job.createdAt, now),
    commandLine(job),
  ]);
  process.stdout.write(
    renderTable(['ID', 'OWNER', 'STATUS', 'CREATED', 'COMMAND'], rows, {
      columns: terminal.columns,
      style: (row, column, text) => {
        if (row === -1) return paint(terminal, 'bold', text);
        const job = jobs[row];
        const color = job === undefined ? undefined : STATUS_COLORS[job.status];
        if (column === 2 && color !== undefined) return paint(terminal, color, text);
        if (column === 2 && job?.status === 'exited' && job.exitCode !== 0) {
          return paint(terminal, 'red', text);
        }
        return text;
      },
    }),
  );
}

function tsvLine(job: JobRecord): string {
  // Tabs and newlines inside a command line would break the fields: they are escaped.
  const command = commandLine(job).replaceAll('\t', '\\t').replaceAll('\n', '\\n');
  return [job.id, job.owner, job.status, endingOf(job) ?? '-', job.createdAt, command].join('\t');
}
