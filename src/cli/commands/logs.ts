// jobctl logs: a job's output from its first byte (or its last lines, or since a time); with
// --follow, until the job ends. Like `docker logs`, the job's stdout goes to stdout and its stderr
// to stderr, and watching never touches the job: Ctrl-C only stops watching.
import { defineCommand } from '../define-command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { OutputFollower, type OutputTarget } from '../follow.ts';
import { InterruptHandler } from '../interrupt.ts';
import { resolveJobId } from '../job-ids.ts';
import type { JobRecord } from '../job-record.ts';
import { tailOffset } from '../output-tail.ts';
import { say } from '../output.ts';
import { sinceTime } from '../since-time.ts';

const STREAMS = ['stdout', 'stderr', 'all'] as const;

const HELP = `Usage: jobctl logs [options] ID

Print a job's output from its first byte: its stdout to stdout and its stderr to stderr. ID may
be any unique prefix of the job's id.

Options:
  -f, --follow             keep printing new output until the job ends
  -n, --tail N             only the last N lines (of both streams together)
      --since TIME         only output written since TIME: RFC 3339 (2026-11-30T08:00:00Z) or
                           a time ago (90s, 10m, 2h, 7d)
  -t, --timestamps         begin each line with the time it was written (RFC 3339, UTC)
      --stream STREAM      only 'stdout' or only 'stderr', printed to stdout; or 'all': both
                           to stdout, interleaved as the server read them
  -h, --help               show this help

The server reads stdout and stderr from two pipes, so lines written close together to both may
come out in another order than the job wrote them; where that order matters, start the job
with 'jobctl run --merge' (both streams in one pipe, all of it as stdout).

Ctrl-C stops watching and leaves the job running, however often it is pressed ('jobctl stop'
stops a job). Exit status: 0 when the output was printed to its end, 130 after Ctrl-C.

Examples:
  jobctl logs 3f2a
  jobctl logs -f --tail 20 3f2a
  jobctl logs --since 10m --timestamps 3f2a
  jobctl logs --stream stderr 3f2a | grep -i warning
  jobctl logs --stream all 3f2a > build.log
`;

export const command = defineCommand({
  name: 'logs',
  help: HELP,
  options: {
    follow: { type: 'boolean', short: 'f' },
    stream: { type: 'string' },
    tail: { type: 'string', short: 'n' },
    since: { type: 'string' },
    timestamps: { type: 'boolean', short: 't' },
  },
  arguments: { takes: 'job' },
  async run({ values, positionals: [text], connect }) {
    const stream = values.stream;
    if (stream !== undefined && !(STREAMS as readonly string[]).includes(stream)) {
      throw new UsageError(`unknown stream '${stream}': one of ${STREAMS.join(', ')}`);
    }
    const target: OutputTarget =
      stream === undefined
        ? { stream: 'both', to: { stdout: process.stdout, stderr: process.stderr } }
        : { stream: stream as (typeof STREAMS)[number], to: process.stdout };
    const tail = values.tail === undefined ? undefined : lineCount(values.tail);
    if (tail !== undefined && (stream === 'stdout' || stream === 'stderr')) {
      throw new UsageError(`--tail counts the lines of both streams: not with --stream ${stream}`);
    }
    const since =
      values.since === undefined ? undefined : sinceTime('--since', values.since, new Date());
    const client = await connect();
    const id = await resolveJobId(client, text);
    const follow = values.follow === true;
    const offset =
      tail === undefined
        ? undefined
        : await tailOffset(
            client,
            id,
            tail,
            (await client.json<JobRecord>('GET', `/v1/jobs/${id}`)).outputBytes,
          );
    const follower = OutputFollower.read(client, id, target, {
      follow,
      ...(offset === undefined ? {} : { offset }),
      ...(since === undefined ? {} : { since }),
      ...(values.timestamps === true ? { timestamps: true } : {}),
    });
    if (!follow) {
      await follower.done;
      return EXIT.OK;
    }
    // A watcher: no `stop`, so no number of Ctrl-C ever stops the job.
    const interrupts = new InterruptHandler({
      jobId: id,
      stopOnInterrupt: false,
      follower,
      stop: undefined,
      say,
    });
    try {
      await Promise.race([follower.done, interrupts.detached]);
    } finally {
      interrupts.dispose();
    }
    return interrupts.interrupted ? EXIT.INTERRUPTED : EXIT.OK;
  },
});

function lineCount(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`--tail expects a whole number of lines of at least 1, not '${text}'`);
  }
  return Number(text);
}
