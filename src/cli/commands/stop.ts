// jobctl stop: ask the server to stop jobs: SIGTERM to each job's whole process tree, SIGKILL
// after the server's grace period. Prints each job's id once the server has taken the request. A
// job that had already ended is no failure (as `docker stop` has it), so `stop X && rm X` holds.
import { defineCommand } from '../define-command.ts';
import { forEachJob } from '../each-job.ts';
import { ApiError } from '../errors.ts';
import { waitForEnd } from '../follow.ts';
import type { JobRecord } from '../job-record.ts';
import { endingOf } from '../job-view.ts';
import type { ApiClient } from '../http-client.ts';
import { print, printJson, say } from '../output.ts';

const HELP = `Usage: jobctl stop [options] ID...

Stop running jobs: SIGTERM to each job's whole process tree, then SIGKILL after the server's
grace period. Each ID may be any unique prefix of a job's id. Prints the id of each job the
server is stopping; a job that had already ended is left as it is and said so on stderr, and
is no failure (exit status 0).

Options:
      --wait   return only once the jobs have ended
      --json   print the jobs' records as a JSON array (with --wait, their final records)
  -h, --help   show this help

Examples:
  jobctl stop 3f2a
  jobctl stop --wait 3f2a && jobctl rm 3f2a
  jobctl ps -q | xargs -r jobctl stop
`;

export const command = defineCommand({
  name: 'stop',
  help: HELP,
  options: {
    wait: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  arguments: { takes: 'jobs', missing: 'missing the id of the job to stop' },
  async run({ values, positionals, connect }) {
    const client = await connect();
    const records: JobRecord[] = [];
    const status = await forEachJob(client, positionals, async (id) => {
      const stopped = await stopJob(client, id);
      let job = stopped.job;
      if (stopped.hadEnded) {
        say(
          `job ${id} had already ended (${[job.status, endingOf(job)].filter(Boolean).join(' ')})`,
        );
      } else if (values.wait === true) {
        await waitForEnd(client, id);
        job = await client.json<JobRecord>('GET', `/v1/jobs/${id}`);
      }
      if (values.json === true) records.push(job);
      else print(id);
    });
    if (values.json === true) printJson(records);
    return status;
  },
});

/** Asks for the stop; a job that had already ended is read as it is instead. */
async function stopJob(
  client: ApiClient,
  id: string,
): Promise<{ job: JobRecord; hadEnded: boolean }> {
  try {
    return { job: await client.json<JobRecord>('POST', `/v1/jobs/${id}/stop`), hadEnded: false };
  } catch (error) {
    if (!(error instanceof ApiError) || error.problemCode !== 'JOB_ALREADY_ENDED') throw error;
    return { job: await client.json<JobRecord>('GET', `/v1/jobs/${id}`), hadEnded: true };
  }
}
