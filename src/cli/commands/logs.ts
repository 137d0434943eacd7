// jobctl logs: a job's output from its first byte; with --follow, until the job ends. Like
// `docker logs`, the job's stdout goes to stdout and its stderr to stderr.
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { OutputFollower, type OutputTarget } from '../follow.ts';
import { InterruptHandler } from '../interrupt.ts';
import { resolveJobId } from '../job-ids.ts';
import { parseCommandLine, singleJobId, withConnection } from '../options.ts';
import { print, say } from '../output.ts';
import { connect } from '../session.ts';

const OPTIONS = withConnection({
  follow: { type: 'boolean', short: 'f' },
  stream: { type: 'string' },
  'stop-on-interrupt': { type: 'boolean' },
});

const STREAMS = ['stdout', 'stderr', 'all'] as const;

const HELP = `Usage: jobctl logs [options] ID

Print a job's output from its first byte: its stdout to stdout and its stderr to stderr. ID may
be any unique prefix of the job's id.

Options:
  -f, --follow             keep printing new output until the job ends
      --stream STREAM      only 'stdout' or only 'stderr', printed to stdout; or 'all': both,
                           interleaved in the order the job wrote them, to stdout
      --stop-on-interrupt  Ctrl-C stops the job instead of detaching from it
  -h, --help               show this help

Ctrl-C while following detaches and leaves the job running; a second Ctrl-C within a second
stops it. Exit status: 0 when the output was printed to its end, 130 after Ctrl-C.

Examples:
  jobctl logs 3f2a
  jobctl logs -f 3f2a
  jobctl logs --stream stderr 3f2a | grep -i warning
  jobctl logs --stream all 3f2a > build.log
`;

export const command: Command = {
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandLine('logs', args, OPTIONS);
    if (values.help) {
      print(HELP);
      return EXIT.OK;
    }
    const text = singleJobId(positionals);
    const stream = values.stream;
    if (stream !== undefined && !(STREAMS as readonly string[]).includes(stream)) {
      throw new UsageError(`unknown stream '${stream}': one of ${STREAMS.join(', ')}`);
    }
    const target: OutputTarget =
      stream === undefined
        ? { stream: 'both', to: { stdout: process.stdout, stderr: process.stderr } }
        : { stream: stream as (typeof STREAMS)[number], to: process.stdout };
    const client = await connect(values);
    try {
      const id = await resolveJobId(client, text);
      const follow = values.follow === true;
      const follower = OutputFollower.read(client, id, target, { follow });
      if (!follow) {
        await follower.done;
        return EXIT.OK;
      }
      const interrupts = new InterruptHandler({
        jobId: id,
        stopOnInterrupt: values['stop-on-interrupt'] === true,
        follower,
        stop: async () => {
          await client.json('POST', `/v1/jobs/${id}/stop`);
        },
        say,
      });
      try {
        await Promise.race([follower.done, interrupts.detached]);
      } finally {
        interrupts.dispose();
      }
      return interrupts.interrupted ? EXIT.INTERRUPTED : EXIT.OK;
    } finally {
      client.close();
    }
  },
};
