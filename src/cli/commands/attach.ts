// jobctl attach: back to a running job, as `docker attach` does: its output from now on, and
// jobctl's stdin to its input when it has one. A terminal job gets this terminal (raw mode,
// window size, Ctrl-P Ctrl-Q detaches); any other job is left with Ctrl-C.
import { attachToJob, exitStatusAfter } from '../attach-client.ts';
import { defineCommand } from '../define-command.ts';
import { resolveJobId } from '../job-ids.ts';
import type { JobRecord } from '../job-record.ts';

const HELP = `Usage: jobctl attach [options] ID

Attach to a running job: show its output from now on (stdout to stdout, stderr to stderr) and,
if it was started with an open input (run -i or -t), send this stdin to it. A job started with
-t gets this terminal: keys go to the job (Ctrl-C too), its size follows this window, and
Ctrl-P Ctrl-Q detaches. Otherwise Ctrl-C detaches. The job keeps running either way.

Options:
      --no-stdin  only watch: send nothing to the job
      --logs      show its output from the first byte, not only from now on
  -h, --help      show this help

Exit status: the job's own once it ends (as for 'run -f'); 130 after detaching.

Examples:
  jobctl run -it -- sh        # Ctrl-P Ctrl-Q leaves it running
  jobctl attach 3f2a
  jobctl attach --no-stdin --logs 3f2a
`;

export const command = defineCommand({
  name: 'attach',
  help: HELP,
  options: {
    'no-stdin': { type: 'boolean' },
    logs: { type: 'boolean' },
  },
  arguments: { takes: 'job' },
  async run({ values, positionals: [text], connect }) {
    const client = await connect();
    const id = await resolveJobId(client, text);
    const job = await client.json<JobRecord>('GET', `/v1/jobs/${id}`);
    const outcome = await attachToJob(client, id, {
      from: values.logs === true ? 'start' : 'now',
      terminal: job.tty !== null && process.stdin.isTTY,
      input: job.stdin && values['no-stdin'] !== true,
    });
    return await exitStatusAfter(client, id, outcome);
  },
});
