// jobctl stop: ask the server to stop jobs: SIGTERM to each job's whole process tree, SIGKILL
// after the server's grace period. Prints each job's id once the server has taken the request.
import type { Command } from '../command.ts';
import { forEachJob } from '../each-job.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { waitForEnd } from '../follow.ts';
import type { JobRecord } from '../job-record.ts';
import { parseCommandLine, withConnection } from '../options.ts';
import { print, printJson } from '../output.ts';
import { connect } from '../session.ts';

const OPTIONS = withConnection({
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
});

const HELP = `Usage: jobctl stop [options] ID...

Stop running jobs: SIGTERM to each job's whole process tree, then SIGKILL after the server's
grace period. Each ID may be any unique prefix of a job's id. Prints the id of each job the
server is stopping; stopping a job that has already ended is an error (JOB_ALREADY_ENDED).

Options:
      --wait   return only once the jobs have ended
      --json   print the jobs' records as a JSON array (with --wait, their final records)
  -h, --help   show this help

Examples:
  jobctl stop 3f2a
  jobctl stop --wait 3f2a && jobctl rm 3f2a
  jobctl ps -q | xargs -r jobctl stop
`;

export const command: Command = {
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandLine('stop', args, OPTIONS);
    if (values.help) {
      print(HELP);
      return EXIT.OK;
    }
    if (positionals.length === 0) throw new UsageError('missing the id of the job to stop');
    const client = await connect(values);
    const records: JobRecord[] = [];
    try {
      const status = await forEachJob(client, positionals, async (id) => {
        let job = await client.json<JobRecord>('POST', `/v1/jobs/${id}/stop`);
        if (values.wait === true) {
          await waitForEnd(client, id);
          job = await client.json<JobRecord>('GET', `/v1/jobs/${id}`);
        }
        if (values.json === true) records.push(job);
        else print(id);
      });
      if (values.json === true) printJson(records);
      return status;
    } finally {
      client.close();
    }
  },
};
