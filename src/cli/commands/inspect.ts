// jobctl inspect: a job's full record as the API returns it, as JSON (like `docker inspect`).
import { defineCommand } from '../define-command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { outputFormatOf, templateOf } from '../job-format.ts';
import { resolveJobId } from '../job-ids.ts';
import type { JobRecord } from '../job-record.ts';
import { print, printJson } from '../output.ts';

const HELP = `Usage: jobctl inspect [options] ID

Print a job's full record as JSON: command, limits, status, exit code or signal, resource
usage, output size and timestamps. ID may be any unique prefix of the job's id.

Options:
      --json             accepted for symmetry: the output is JSON (also -o json)
  -o, --output FORMAT    json (the default), or name: the job's full id
      --format TEMPLATE  one line from TEMPLATE, e.g. '{{.Status}} {{.Exit}}' (fields as in
                         'jobctl ps --help')
  -h, --help             show this help

Examples:
  jobctl inspect 3f2a
  jobctl inspect 3f2a | jq .usage
  jobctl inspect --format '{{.Status}}' 3f2a
`;

export const command = defineCommand({
  name: 'inspect',
  help: HELP,
  options: {
    json: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
    format: { type: 'string' },
  },
  arguments: { takes: 'job' },
  async run({ values, positionals: [text], connect }) {
    const output = outputFormatOf(values.output);
    if (output === 'wide') throw new UsageError("-o wide is for lists: 'jobctl ps -o wide'");
    const line = values.format === undefined ? undefined : templateOf(values.format);
    const client = await connect();
    const id = await resolveJobId(client, text);
    const job = await client.json<JobRecord>('GET', `/v1/jobs/${id}`);
    if (line !== undefined) process.stdout.write(`${line(job)}\n`);
    else if (output === 'name') print(job.id);
    else printJson(job);
    return EXIT.OK;
  },
});
