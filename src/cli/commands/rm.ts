// jobctl rm: delete ended jobs and their output. With --force a running job is stopped first and
// deleted once it has ended, as `docker rm -f` does.
import { defineCommand } from '../define-command.ts';
import { forEachJob } from '../each-job.ts';
import { ApiError, UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { waitForEnd } from '../follow.ts';
import type { ApiClient } from '../http-client.ts';
import { jobPages } from '../job-pages.ts';
import { ENDED_STATUSES } from '../../jobs/job-status.ts';
import { print, printPaced } from '../output.ts';

const HELP = `Usage: jobctl rm [options] ID...
       jobctl rm --label KEY=VALUE [--label KEY=VALUE...]

Delete ended jobs and their output. Each ID may be any unique prefix of a job's id. Prints the
id of each deleted job; deleting a job that is still running is an error (JOB_STILL_RUNNING).
With --label, every ended job that has all the labels given is deleted, and jobs that have not
ended are left alone.

Options:
  -f, --force            stop a running job first, wait for it to end, then delete it
  -l, --label KEY=VALUE  delete the ended jobs with this label (repeatable: all must match)
  -h, --help             show this help

Examples:
  jobctl rm 3f2a
  jobctl rm -f 3f2a
  jobctl rm --label pipeline=4711
  jobctl ps -aq --status exited | xargs -r jobctl rm
`;

export const command = defineCommand({
  name: 'rm',
  help: HELP,
  options: {
    force: { type: 'boolean', short: 'f' },
    label: { type: 'string', short: 'l', multiple: true },
  },
  // Job ids, or none with --label.
  arguments: { takes: 'words' },
  async run({ values, positionals, connect }) {
    if (values.label !== undefined) {
      if (positionals.length > 0) throw new UsageError('give either job ids or --label, not both');
      if (values.force === true) {
        throw new UsageError('--force does not go with --label: stop the jobs first');
      }
      return deleteLabelled(await connect(), values.label);
    }
    if (positionals.length === 0) throw new UsageError('missing the id of the job to delete');
    const client = await connect();
    return await forEachJob(client, positionals, async (id) => {
      if (values.force === true) await stopAndWait(client, id);
      await client.json('DELETE', `/v1/jobs/${id}`);
      print(id);
    });
  },
});

/**
 * Deletes, page by page, the ended jobs that carry every label. Deleting behind the listing's
 * cursor is safe: the next page starts after the last job listed, wherever that one went.
 */
async function deleteLabelled(client: ApiClient, labels: readonly string[]): Promise<number> {
  const query = { labels, status: [...ENDED_STATUSES], pageSize: 1000 };
  for await (const jobs of jobPages(client, query)) {
    for (const job of jobs) {
      await client.json('DELETE', `/v1/jobs/${job.id}`);
      await printPaced(`${job.id}\n`);
    }
  }
  return EXIT.OK;
}

async function stopAndWait(client: ApiClient, id: string): Promise<void> {
  try {
    await client.json('POST', `/v1/jobs/${id}/stop`);
  } catch (error) {
    if (!(error instanceof ApiError && error.problemCode === 'JOB_ALREADY_ENDED')) throw error;
  }
  await waitForEnd(client, id);
}
