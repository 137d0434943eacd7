// jobctl run: start a job. Alone it prints the job's id, like `docker run -d`; with --follow it
// shows the job's output live (stdout to stdout, stderr to stderr) and exits with the job's own
// status, like `ssh host cmd`; with --wait it only waits for that status. With --interactive it
// also sends its own stdin to the job, like `docker run -i`.
import type { TLSSocket } from 'node:tls';
import { MULTIPLEXED_STREAM } from '../../contract/multiplexed-stream.ts';
import { defineCommand, type CommandValues } from '../define-command.ts';
import { ApiError, CliError, UsageError } from '../errors.ts';
import { EXIT, exitStatusOf } from '../exit-status.ts';
import { END_OFFSET, OutputFollower } from '../follow.ts';
import type { ApiClient } from '../http-client.ts';
import { InterruptHandler } from '../interrupt.ts';
import { InputSender } from '../send-input.ts';
import { attachToJob, exitStatusAfter } from '../attach-client.ts';
import type { JobRecord } from '../job-record.ts';
import {
  JOB_FIELD_HELP,
  JOB_FIELD_OPTIONS,
  jobRequest,
  type Request,
} from '../job-field-options.ts';
import { print, printJson, say } from '../output.ts';
import {
  DEFAULT_UPLOAD_SIZE,
  remoteBuildOf,
  runRemoteBuild,
  type RemoteBuild,
} from '../remote-build.ts';

/** How jobctl starts and watches the job; the job's own fields are in job-field-options.ts. */
const OPTIONS = {
  follow: { type: 'boolean', short: 'f' },
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
  wait: { type: 'boolean' },
  'no-queue': { type: 'boolean' },
  'stop-on-interrupt': { type: 'boolean' },
  json: { type: 'boolean' },
  upload: { type: 'string' },
  download: { type: 'string', multiple: true },
  'upload-size': { type: 'string' },
  ...JOB_FIELD_OPTIONS,
} as const;

type Values = CommandValues<typeof OPTIONS>;

const HELP = `Usage: jobctl run [options] [--] COMMAND [ARG...]

Start COMMAND as a job on the server. Options end at the first argument that is not one of
jobctl's (or at --); everything after belongs to the job. The job gets no shell (use
'sh -c "..."' for pipes and globs) and an empty stdin, unless -i gives it jobctl's.

Options:
  -f, --follow            show the job's output as it comes (stdout to stdout, stderr to
                          stderr) and exit with the job's status
  -i, --interactive       send jobctl's stdin to the job's (its end is the job's EOF);
                          implies --follow
  -t, --tty               run the job on a terminal, attached to this one as 'ssh -t' is
                          (raw mode, window size; Ctrl-P Ctrl-Q detaches); implies -i
      --wait              print the job's id, wait for the job to end without showing its
                          output, and exit with its status
${JOB_FIELD_HELP}
      --no-queue          fail (TOO_MANY_JOBS) rather than wait when the job cannot start now
      --stop-on-interrupt Ctrl-C stops the job instead of detaching from it
      --json              print the job's record as JSON (with --wait, the final record)
      --upload DIR        a remote build: send DIR's content into a volume made for this
                          run, mounted as the job's working directory /work (with -f or
                          --wait); the volume is removed when the job has ended, also when
                          it fails or Ctrl-C stops it
      --download PATH     with --upload: once the job has ended, bring PATH (relative to
                          DIR and /work) back into DIR (repeatable)
      --upload-size SIZE  with --upload: the volume's size (default ${DEFAULT_UPLOAD_SIZE})
  -h, --help              show this help

Without --follow or --wait, jobctl prints the new job's id and exits.

Ctrl-C while following says what a second Ctrl-C within a second will do (stop the job), and
without one detaches, leaving the job running; Ctrl-\\ detaches at once. Exit status with --follow or --wait: the job's exit code; 128+N if a signal N ended
it; 124 if it timed out; 126 if it could not start, 127 if its command was not found; 255 if it
was lost; 130 if you detached; 125 if jobctl itself failed.

Examples:
  jobctl run -f -- uname -a
  printf 'a\nb\n' | jobctl run -i -- wc -l
  jobctl run -it -- sh
  tar c . | jobctl run -i -- tar x -C /work
  jobctl run -f -- sh -c 'echo out; echo err >&2; exit 3'; echo "status $?"
  jobctl run -f --merge -- sh -c 'echo a; echo b >&2; echo c' > all.log
  ID=$(jobctl run --memory 256M --cpu 0.5 -- make -j2 test) && jobctl logs -f "$ID"
  jobctl run --wait --timeout 10m -e CI=true -- sh -c 'git clone "$REPO" . && npm test'
  jobctl run -f --image busybox -- ls /
  jobctl run -l pipeline=4711 -l stage=test -- make test
  jobctl run -f -v cache:/work/.cache -v src:/work/src:ro -- make -C /work/src
  jobctl run -f --upload . --download out/ -- make -j2
`;

export const command = defineCommand({
  name: 'run',
  help: HELP,
  options: OPTIONS,
  arguments: {
    takes: 'command',
    missing: 'missing the command to run, as in: jobctl run -f -- echo hello',
  },
  // Kept out of the way of the job's own statuses, which --follow and --wait exit with.
  failureStatuses: { usage: EXIT.RUN_FAILED, failure: EXIT.RUN_FAILED },
  async run({ values, positionals: [name, ...commandArgs], connect }) {
    const follow = values.follow === true || values.interactive === true;
    if (follow && values.json === true) {
      throw new UsageError('--json cannot be combined with --follow (try --wait --json)');
    }
    if (values.tty === true && !process.stdin.isTTY) {
      throw new UsageError('-t needs a terminal on stdin (to pipe input into a job, use -i alone)');
    }
    const request = jobRequest(values, name, commandArgs);
    const build = await remoteBuildOfValues(values);
    const client = await connect();
    try {
      if (build !== undefined) {
        // Ctrl-C stops the job at once: the volume can be removed only once it has ended.
        const stopping = { ...values, 'stop-on-interrupt': true };
        return await runRemoteBuild(client, build, request, (mounted, onJob) =>
          startAndWatch(client, mounted, stopping, onJob),
        );
      }
      return await startAndWatch(client, request, values);
    } catch (error) {
      // As a shell reports it: the status says the command was not there, or could not run.
      const status =
        error instanceof ApiError ? CANNOT_RUN_STATUS[error.problemCode ?? ''] : undefined;
      if (status === undefined) throw error;
      say((error as ApiError).message);
      return status;
    }
  },
});

/** The exit status of a start the server refused because its command cannot run. */
const CANNOT_RUN_STATUS: Readonly<Record<string, number>> = {
  COMMAND_NOT_FOUND: EXIT.COMMAND_NOT_FOUND,
  COMMAND_CANNOT_RUN: EXIT.CANNOT_START,
};

/** --upload's remote build, checked; undefined without --upload. */
async function remoteBuildOfValues(values: Values): Promise<RemoteBuild | undefined> {
  if (values.upload === undefined) {
    if (values.download !== undefined || values['upload-size'] !== undefined) {
      throw new UsageError('--download and --upload-size go with --upload');
    }
    return undefined;
  }
  if (values.tty === true || (values.follow !== true && values.wait !== true)) {
    throw new UsageError('--upload needs -f or --wait (not -t): its volume goes when the job ends');
  }
  return remoteBuildOf(values.upload, values.download ?? [], values['upload-size']);
}

/**
 * Starts the job, then follows it, waits for it or prints its id, as the options say; `onJob`
 * hears its id as soon as there is one.
 */
async function startAndWatch(
  client: ApiClient,
  request: Request,
  values: Values,
  onJob: (id: string) => void = () => undefined,
): Promise<number> {
  if (values.tty === true) {
    const job = await startJob(client, request, values);
    onJob(job.id);
    const options = { from: 'start', terminal: true, input: true } as const;
    return await exitStatusAfter(client, job.id, await attachToJob(client, job.id, options));
  }
  if (values.follow === true || values.interactive === true) {
    return await runFollowing(client, request, values, onJob);
  }
  const job = await startJob(client, request, values);
  onJob(job.id);
  if (values.wait === true) {
    if (values.json !== true) print(job.id);
    const follower = OutputFollower.read(
      client,
      job.id,
      { stream: 'all', to: process.stdout },
      { follow: true, offset: END_OFFSET },
    );
    return await watch(client, job.id, follower, values, undefined);
  }
  if (values.json === true) printJson(job);
  else print(job.id);
  return EXIT.OK;
}

/** Starts the job; its record is the answer. */
async function startJob(client: ApiClient, request: Request, values: Values): Promise<JobRecord> {
  const path = values['no-queue'] === true ? '/v1/jobs?queue=false' : '/v1/jobs';
  const job = await refusalsInJobctlWords(client.json<JobRecord>('POST', path, request), request);
  if (job.status === 'queued') sayQueued(job);
  return job;
}

/** Waiting is not failing: said on stderr, so scripts reading the id are undisturbed. */
function sayQueued(job: Pick<JobRecord, 'queuePosition' | 'queueReason'>): void {
  const why = job.queueReason === null ? '' : `: ${job.queueReason.message}`;
  say(`queued (position ${job.queuePosition ?? '?'}${why})`);
}

/**
 * The server's refusal of a start, in the words of jobctl's command line: its flags, not the
 * API's query, and for a command it could not find, the way to write one with spaces.
 */
async function refusalsInJobctlWords<T>(start: Promise<T>, request: Request): Promise<T> {
  try {
    return await start;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const code = error.problemCode;
    const said = code === undefined ? error.message : error.message.replace(` (${code})`, '');
    const detail = said.replaceAll('leave out ?queue=false', 'leave out --no-queue');
    const words = request.command.trim().split(/\s+/);
    const hint =
      error.problemCode === 'COMMAND_NOT_FOUND' && words.length > 1 && request.args?.length === 0
        ? `; to run '${words[0] ?? ''}' with arguments, give them apart: jobctl run -- ${words.join(' ')}`
        : '';
    if (detail === said && hint === '') throw error;
    throw new ApiError(error.status, code, detail, hint);
  }
}

/**
 * Starts the job and follows it in the same request, as `curl ...?follow=true` does: its answer
 * is the job's stdout and stderr told apart, then how it ended. One request, where starting and
 * then reading took four (stdout and stderr apart, the record at the end) and a second
 * connection.
 */
async function runFollowing(
  client: ApiClient,
  request: Request,
  values: Values,
  onJob: (id: string) => void,
): Promise<number> {
  // The job's input goes over a connection of its own, whose handshake overlaps the start.
  const inputConnection = values.interactive === true ? client.preconnect() : undefined;
  const query = new URLSearchParams({ follow: 'true' });
  if (values['no-queue'] === true) query.set('queue', 'false');
  const response = await refusalsInJobctlWords(
    client.open('POST', `/v1/jobs?${query.toString()}`, request, { accept: MULTIPLEXED_STREAM }),
    request,
  );
  const jobId = response.headers['job-id'];
  if (typeof jobId !== 'string') {
    response.destroy();
    throw new CliError(
      'PROTOCOL',
      "the server's answer to POST /v1/jobs?follow=true has no Job-Id",
    );
  }
  onJob(jobId);
  if (typeof response.headers['job-queue-position'] === 'string') {
    // The answer's headers give the place only: the record says why.
    sayQueued(await client.json<JobRecord>('GET', `/v1/jobs/${jobId}`));
  }
  const follower = OutputFollower.ofResponse(client, response, {
    stdout: process.stdout,
    stderr: process.stderr,
  });
  return watch(client, jobId, follower, values, inputConnection);
}

/**
 * Watches the job through `follower` (its output, or only its end) until it ends or the user
 * detaches, sending it jobctl's stdin with --interactive; the job's exit status is jobctl's.
 */
async function watch(
  client: ApiClient,
  jobId: string,
  follower: OutputFollower,
  values: Values,
  inputConnection: TLSSocket | undefined,
): Promise<number> {
  const interrupts = new InterruptHandler({
    jobId,
    stopOnInterrupt: values['stop-on-interrupt'] === true,
    follower,
    stop: async () => {
      await client.json('POST', `/v1/jobs/${jobId}/stop`);
    },
    say,
  });
  const input =
    values.interactive === true
      ? new InputSender(client, jobId, process.stdin, inputConnection)
      : undefined;
  let outcome: 'ended' | 'detached';
  try {
    outcome = await Promise.race([
      follower.done.then(() => 'ended' as const),
      interrupts.detached.then(() => 'detached' as const),
      ...(input === undefined ? [] : [input.failed]),
    ]);
  } finally {
    interrupts.dispose();
    input?.stop();
  }
  if (outcome === 'detached') return EXIT.INTERRUPTED;
  // A plain exit needs no explaining: the trailers say all of it, and no request is left to make.
  const ending = follower.ending;
  if (ending?.status === 'exited' && ending.oomKilled === false && values.json !== true) {
    return exitStatusOf({ ...ending, id: jobId, status: 'exited', error: null });
  }
  const ended = await client.json<JobRecord>('GET', `/v1/jobs/${jobId}`);
  // The server has said why on the job's stderr already (`jobworker: ...`): once is enough.
  if (ending?.error === undefined) explainEnding(ended, interrupts.interrupted);
  if (values.json === true) printJson(ended);
  return exitStatusOf(ended);
}

/** Says on stderr why a job ended other than by exiting, since its exit status cannot. */
function explainEnding(job: JobRecord, stoppedByUs: boolean): void {
  const id = job.id;
  if (job.oomKilled) say(`job ${id} was killed: it ran out of memory (its limit)`);
  switch (job.status) {
    case 'failed':
      say(`job ${id} could not start: ${job.error ?? 'unknown reason'}`);
      return;
    case 'timedout':
      say(`job ${id} timed out after ${(job.timeoutMs ?? 0) / 1000}s`);
      return;
    case 'lost':
      say(`job ${id} was lost: ${job.error ?? 'its supervisor vanished'}`);
      return;
    case 'stopped':
      if (!stoppedByUs) say(`job ${id} was stopped (${job.signal ?? 'SIGTERM'})`);
      return;
    default:
      return;
  }
}
