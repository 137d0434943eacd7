// jobctl wait: block until jobs end, print each one's status as `docker wait` prints the exit code,
// and exit with the last one's: its exit code, 128+N for a signal, 1 if it failed or was lost.
import { defineCommand } from '../define-command.ts';
import { forEachJob } from '../each-job.ts';
import { EXIT, signalNumber } from '../exit-status.ts';
import { waitForEnd } from '../follow.ts';
import type { JobRecord } from '../job-record.ts';
import { print } from '../output.ts';

const HELP = `Usage: jobctl wait [options] ID...

Wait until each job has ended, then print its status, one a line: its exit code, 128+N if
signal N ended it, 1 if it could not start, timed out or was lost. Each ID may be any unique
prefix of a job's id. Nothing is read of the jobs' output.

Options:
  -h, --help   show this help

Exit status: the last job's status as printed; 1 if a job could not be found.

Examples:
  ID=$(jobctl run -- make test) && jobctl wait "$ID"
  jobctl wait 3f2a 9c1b
`;

const SIGNAL_BASE = 128;

export const command = defineCommand({
  name: 'wait',
  help: HELP,
  options: {},
  arguments: { takes: 'jobs', missing: 'missing the id of the job to wait for' },
  async run({ positionals, connect }) {
    const client = await connect();
    let last: number = EXIT.OK;
    const found = await forEachJob(client, positionals, async (id) => {
      await waitForEnd(client, id);
      last = waitStatus(await client.json<JobRecord>('GET', `/v1/jobs/${id}`));
      print(String(last));
    });
    return found === EXIT.OK ? last : found;
  },
});

/** What `docker wait` would print: the code, 128+N for a signal, 1 for any other ending. */
export function waitStatus(job: Pick<JobRecord, 'status' | 'exitCode' | 'signal'>): number {
  if (job.exitCode !== null) return job.exitCode;
  if ((job.status === 'exited' || job.status === 'stopped') && job.signal !== null) {
    return SIGNAL_BASE + signalNumber(job.signal);
  }
  return EXIT.FAILURE;
}
