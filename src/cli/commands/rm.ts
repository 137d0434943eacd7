// jobctl rm: delete ended jobs and their output. With --force a running job is stopped first and
// deleted once it has ended, as `docker rm -f` does.
import type { Command } from '../command.ts';
import { forEachJob } from '../each-job.ts';
import { ApiError, UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { waitForEnd } from '../follow.ts';
import type { ApiClient } from '../http-client.ts';
import { parseCommandLine, withConnection } from '../options.ts';
import { print } from '../output.ts';
import { connect } from '../session.ts';

const OPTIONS = withConnection({ force: { type: 'boolean', short: 'f' } });

const HELP = `Usage: jobctl rm [options] ID...

Delete ended jobs and their output. Each ID may be any unique prefix of a job's id. Prints the
id of each deleted job; deleting a job that is still running is an error (JOB_STILL_RUNNING).

Options:
  -f, --force  stop a running job first, wait for it to end, then delete it
  -h, --help   show this help

Examples:
  jobctl rm 3f2a
  jobctl rm -f 3f2a
  jobctl ps -aq --status exited | xargs -r jobctl rm
`;

export const command: Command = {
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandLine('rm', args, OPTIONS);
    if (values.help) {
      print(HELP);
      return EXIT.OK;
    }
    if (positionals.length === 0) throw new UsageError('missing the id of the job to delete');
    const client = await connect(values);
    try {
      return await forEachJob(client, positionals, async (id) => {
        if (values.force === true) await stopAndWait(client, id);
        await client.json('DELETE', `/v1/jobs/${id}`);
        print(id);
      });
    } finally {
      client.close();
    }
  },
};

async function stopAndWait(client: ApiClient, id: string): Promise<void> {
  try {
    await client.json('POST', `/v1/jobs/${id}/stop`);
  } catch (error) {
    if (!(error instanceof ApiError && error.problemCode === 'JOB_ALREADY_ENDED')) throw error;
  }
  await waitForEnd(client, id);
}
