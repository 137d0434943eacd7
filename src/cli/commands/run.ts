// jobctl run: start a job. Alone it prints the job's id, like `docker run -d`; with --follow it
// shows the job's output live (stdout to stdout, stderr to stderr) and exits with the job's own
// status, like `ssh host cmd`; with --wait it only waits for that status. With --interactive it
// also sends its own stdin to the job, like `docker run -i`.
import type { TLSSocket } from 'node:tls';
import type { Command } from '../command.ts';
import { MULTIPLEXED_STREAM } from '../../contract/multiplexed-stream.ts';
import { ApiError, CliError, UsageError } from '../errors.ts';
import { EXIT, exitStatusOf } from '../exit-status.ts';
import { END_OFFSET, OutputFollower } from '../follow.ts';
import type { ApiClient } from '../http-client.ts';
import { InterruptHandler } from '../interrupt.ts';
import { InputSender } from '../send-input.ts';
import { attachToJob, exitStatusAfter } from '../attach-client.ts';
import type { JobRecord, JobRequest } from '../job-record.ts';
import { parseCommandLine, splitAtCommand, withConnection, type Parsed } from '../options.ts';
import { print, printJson, say } from '../output.ts';
import { connect } from '../session.ts';

const OPTIONS = withConnection({
  follow: { type: 'boolean', short: 'f' },
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
  wait: { type: 'boolean' },
  env: { type: 'string', short: 'e', multiple: true },
  cwd: { type: 'string' },
  cpu: { type: 'string' },
  cpus: { type: 'string' },
  memory: { type: 'string', short: 'm' },
  pids: { type: 'string' },
  timeout: { type: 'string' },
  'queue-timeout': { type: 'string' },
  'no-queue': { type: 'boolean' },
  image: { type: 'string' },
  label: { type: 'string', short: 'l', multiple: true },
  'host-fs': { type: 'boolean' },
  'stop-on-interrupt': { type: 'boolean' },
  merge: { type: 'boolean' },
  json: { type: 'boolean' },
});

/** The job's request as jobctl sends it: `stderr` is the server's since issue 36. */
type Request = JobRequest & { stderr?: 'merged' | 'separate' };

/** Variables of the local terminal a terminal job gets, as ssh sends them (man ssh_config). */
const TERMINAL_VARIABLES = ['TERM', 'COLORTERM', 'LANG'] as const;

/** What the server accepts as a variable name (contract/job-request.ts), said in jobctl's words. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Values = Parsed<typeof OPTIONS>['values'];

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
      --merge             one pipe for the job's stdout and stderr, so their lines keep the
                          order the job wrote them in; all of it is then its stdout
  -e, --env NAME=VALUE    set a variable in the job's environment (repeatable); --env NAME
                          passes this shell's value of NAME. With -t, TERM, COLORTERM and LANG
                          are passed as ssh passes them, unless -e sets them
      --cwd DIR           working directory of the job (absolute, as the job sees it;
                          default: its own writable /work in the sandbox)
      --image NAME        run in a root filesystem image the operator imported
  -l, --label KEY=VALUE   label the job, to find it again with 'ps --label' (repeatable)
      --host-fs           run on the server's own filesystem instead of a private sandbox
                          (roles the server allows only, admin by default)
      --cpu N             CPU quota in CPUs, e.g. 0.5 (also --cpus)
  -m, --memory SIZE       memory limit, e.g. 256M or 1GiB
      --pids N            limit on processes and threads
      --timeout DURATION  wall-clock limit, e.g. 30s or 10m; the job then ends as 'timedout'
      --queue-timeout DURATION
                          if the job has to wait for a slot or memory, wait at most this
                          long, e.g. 10m; then it ends as 'stopped' without having run
      --no-queue          fail (TOO_MANY_JOBS) rather than wait when the job cannot start now
      --stop-on-interrupt Ctrl-C stops the job instead of detaching from it
      --json              print the job's record as JSON (with --wait, the final record)
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
`;

export const command: Command = {
  help: HELP,
  async run(args) {
    const { own, rest } = splitAtCommand('run', args, OPTIONS);
    const { values, positionals } = parseCommandLine('run', own, OPTIONS);
    if (values.help) {
      print(HELP);
      return EXIT.OK;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const [name, ...commandArgs] = rest;
    if (name === undefined) {
      throw new UsageError('missing the command to run, as in: jobctl run -f -- echo hello');
    }
    const follow = values.follow === true || values.interactive === true;
    if (follow && values.json === true) {
      throw new UsageError('--json cannot be combined with --follow (try --wait --json)');
    }
    if (values.tty === true && !process.stdin.isTTY) {
      throw new UsageError('-t needs a terminal on stdin (to pipe input into a job, use -i alone)');
    }
    const request = jobRequest(values, name, commandArgs);
    const client = await connect(values);
    try {
      return await startAndWatch(client, request, values);
    } catch (error) {
      // As a shell reports it: the status says the command was not there, or could not run.
      const status =
        error instanceof ApiError ? CANNOT_RUN_STATUS[error.problemCode ?? ''] : undefined;
      if (status === undefined) throw error;
      say((error as ApiError).message);
      return status;
    } finally {
      client.close();
    }
  },
};

/** The exit status of a start the server refused because its command cannot run. */
const CANNOT_RUN_STATUS: Readonly<Record<string, number>> = {
  COMMAND_NOT_FOUND: EXIT.COMMAND_NOT_FOUND,
  COMMAND_CANNOT_RUN: EXIT.CANNOT_START,
};

/** Starts the job, then follows it, waits for it or prints its id, as the options say. */
async function startAndWatch(client: ApiClient, request: Request, values: Values): Promise<number> {
  if (values.tty === true) {
    const job = await startJob(client, request, values);
    const options = { from: 'start', terminal: true, input: true } as const;
    return await exitStatusAfter(client, job.id, await attachToJob(client, job.id, options));
  }
  if (values.follow === true || values.interactive === true) {
    return await runFollowing(client, request, values);
  }
  const job = await startJob(client, request, values);
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
async function runFollowing(client: ApiClient, request: Request, values: Values): Promise<number> {
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

function jobRequest(values: Values, name: string, args: readonly string[]): Request {
  const cpus = values.cpu ?? values.cpus;
  const limits = {
    ...(cpus === undefined ? {} : { cpus: positiveNumber('--cpu', cpus) }),
    ...(values.memory === undefined ? {} : { memory: values.memory }),
    ...(values.pids === undefined ? {} : { pids: positiveInteger('--pids', values.pids) }),
  };
  return {
    command: name,
    args: [...args],
    ...envOf(values),
    ...(values.label === undefined ? {} : { labels: labelsOf(values.label) }),
    ...(values.cwd === undefined ? {} : { cwd: values.cwd }),
    ...(Object.keys(limits).length === 0 ? {} : { limits }),
    ...(values.timeout === undefined ? {} : { timeout: values.timeout }),
    ...(values['queue-timeout'] === undefined ? {} : { queueTimeout: values['queue-timeout'] }),
    ...(values.image === undefined ? {} : { image: values.image }),
    ...(values['host-fs'] === true ? { sandbox: 'host' as const } : {}),
    ...(values.interactive === true ? { stdin: true } : {}),
    ...(values.tty === true ? { tty: true, ...terminalSize() } : {}),
    ...(values.merge === true ? { stderr: 'merged' as const } : {}),
  };
}

/** -e's variables; with -t, the local terminal's type and locale first, as ssh sends them. */
function envOf(values: Values): { env?: Record<string, string> } {
  const terminal: Record<string, string> = {};
  if (values.tty === true) {
    for (const name of TERMINAL_VARIABLES) {
      const value = process.env[name];
      if (value !== undefined && value !== '') terminal[name] = value;
    }
  }
  const env = { ...terminal, ...(values.env === undefined ? {} : environment(values.env)) };
  return Object.keys(env).length === 0 ? {} : { env };
}

/** The local window's size, for the job's terminal to start with. */
function terminalSize(): { ttySize?: { rows: number; cols: number } } {
  const { rows, columns } = process.stdout;
  // A terminal that does not know its size (0 x 0) leaves the server's default.
  return process.stdout.isTTY && rows > 0 && columns > 0
    ? { ttySize: { rows, cols: columns } }
    : {};
}

/** `KEY=VALUE` pairs; the server says which keys and values are valid. */
function labelsOf(entries: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals <= 0) throw new UsageError(`invalid --label '${entry}': expected KEY=VALUE`);
    const key = entry.slice(0, equals);
    if (Object.hasOwn(labels, key)) throw new UsageError(`--label ${key} is given twice`);
    labels[key] = entry.slice(equals + 1);
  }
  return labels;
}

/** `NAME=VALUE` as given; a bare `NAME` passes this shell's value, as `docker run -e` does. */
function environment(entries: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals === 0) throw new UsageError(`invalid --env '${entry}': expected NAME=VALUE`);
    const name = equals > 0 ? entry.slice(0, equals) : entry;
    if (!ENV_NAME.test(name)) {
      throw new UsageError(
        `-e '${entry}': variable names are letters, digits and _, not starting with a digit`,
      );
    }
    if (equals > 0) {
      env[entry.slice(0, equals)] = entry.slice(equals + 1);
      continue;
    }
    const local = process.env[entry];
    if (local !== undefined) env[entry] = local;
  }
  return env;
}

function positiveNumber(option: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`invalid ${option} '${text}': expected a positive number`);
  }
  return value;
}

function positiveInteger(option: string, text: string): number {
  const value = positiveNumber(option, text);
  if (!Number.isInteger(value)) {
    throw new UsageError(`invalid ${option} '${text}': expected a whole number`);
  }
  return value;
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
