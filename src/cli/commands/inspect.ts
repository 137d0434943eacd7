// jobctl inspect: a job's full record as the API returns it, as JSON (like `docker inspect`).
import type { Command } from '../command.ts';
import { EXIT } from '../exit-status.ts';
import { resolveJobId } from '../job-ids.ts';
import type { JobRecord } from '../job-record.ts';
import { parseCommandLine, singleJobId, withConnection } from '../options.ts';
import { print, printJson } from '../output.ts';
import { connect } from '../session.ts';

const OPTIONS = withConnection({ json: { type: 'boolean' } });

const HELP = `Usage: jobctl inspect [options] ID

Print a job's full record as JSON: command, limits, status, exit code or signal, resource
usage, output size and timestamps. ID may be any unique prefix of the job's id.

Options:
      --json   accepted for symmetry: the output is always JSON
  -h, --help   show this help

Examples:
  jobctl inspect 3f2a
  jobctl inspect 3f2a | jq .usage
`;

export const command: Command = {
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandLine('inspect', args, OPTIONS);
    if (values.help) {
      print(HELP);
      return EXIT.OK;
    }
    const text = singleJobId(positionals);
    const client = await connect(values);
    try {
      const id = await resolveJobId(client, text);
      printJson(await client.json<JobRecord>('GET', `/v1/jobs/${id}`));
      return EXIT.OK;
    } finally {
      client.close();
    }
  },
};
