// The options of `jobctl run` that set fields of the job's request (POST /v1/jobs), in one place:
// each option's parseArgs config, its lines in `jobctl run --help`, and how its value becomes
// the request's field. A flag for a new job field is one entry in each, side by side here.
// -i and -t set fields too (stdin, tty) but also change how jobctl watches the job, so run.ts
// declares them and lists them with --follow and --wait.
import { UsageError } from './errors.ts';
import type { JobRequest } from './job-record.ts';
import type { Parsed } from './options.ts';

/** parseArgs' config of the job-field options. */
export const JOB_FIELD_OPTIONS = {
  merge: { type: 'boolean' },
  env: { type: 'string', short: 'e', multiple: true },
  cwd: { type: 'string' },
  image: { type: 'string' },
  label: { type: 'string', short: 'l', multiple: true },
  'host-fs': { type: 'boolean' },
  volume: { type: 'string', short: 'v', multiple: true },
  network: { type: 'string' },
  cpu: { type: 'string' },
  cpus: { type: 'string' },
  memory: { type: 'string', short: 'm' },
  pids: { type: 'string' },
  timeout: { type: 'string' },
  'queue-timeout': { type: 'string' },
} as const;

/** Their lines in `jobctl run --help`'s Options, in the order printed there. */
export const JOB_FIELD_HELP = `      --merge             one pipe for the job's stdout and stderr, so their lines keep the
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
  -v, --volume VOL:PATH[:ro]
                          mount your volume VOL at PATH in the job's sandbox (absolute, e.g.
                          /work/src), read-only with :ro (repeatable, at most 8)
      --network MODE      none: only the job's own loopback; egress: out through the
                          server's filter (what the operator allows; users by default);
                          host: the server's own network (admin by default). Default:
                          the server's (none unless its operator sets another)
      --cpu N             CPU quota in CPUs, e.g. 0.5 (also --cpus)
  -m, --memory SIZE       memory limit, e.g. 256M or 1GiB
      --pids N            limit on processes and threads
      --timeout DURATION  wall-clock limit, e.g. 30s or 10m; the job then ends as 'timedout'
      --queue-timeout DURATION
                          if the job has to wait for a slot or memory, wait at most this
                          long, e.g. 10m; then it ends as 'stopped' without having run`;

/** The parsed job-field options, with -i and -t, which set `stdin` and `tty`. */
export type JobFieldValues = Parsed<typeof JOB_FIELD_OPTIONS>['values'] & {
  readonly interactive?: boolean | undefined;
  readonly tty?: boolean | undefined;
};

/** The job's request as jobctl sends it: `stderr` is the server's since issue 36. */
export type Request = JobRequest & { stderr?: 'merged' | 'separate' };

/** Variables of the local terminal a terminal job gets, as ssh sends them (man ssh_config). */
const TERMINAL_VARIABLES = ['TERM', 'COLORTERM', 'LANG'] as const;

/** What the server accepts as a variable name (contract/job-request.ts), said in jobctl's words. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The request that starts `name` with `args`, as the options ask for it. */
export function jobRequest(values: JobFieldValues, name: string, args: readonly string[]): Request {
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
    ...(values.volume === undefined ? {} : { volumes: values.volume.map(volumeMount) }),
    ...(values.network === undefined ? {} : { network: networkMode(values.network) }),
    ...(values.interactive === true ? { stdin: true } : {}),
    ...(values.tty === true ? { tty: true, ...terminalSize() } : {}),
    ...(values.merge === true ? { stderr: 'merged' as const } : {}),
  };
}

/** The network modes a job may ask for (jobs/job.ts's NETWORK_MODES, which jobctl does not load). */
const NETWORK_MODES = ['none', 'egress', 'host'] as const satisfies readonly NonNullable<
  JobRequest['network']
>[];

/** --network's value, checked here so a typo is a usage error before anything is sent. */
function networkMode(text: string): NonNullable<JobRequest['network']> {
  const mode = NETWORK_MODES.find((known) => known === text);
  if (mode === undefined) {
    throw new UsageError(`invalid --network '${text}': expected ${NETWORK_MODES.join(', ')}`);
  }
  return mode;
}

/** -v's `VOL:PATH[:ro|:rw]`; the server says which names and paths are valid. */
function volumeMount(entry: string): NonNullable<JobRequest['volumes']>[number] {
  const match = /^([^:/]+):(\/[^:]*)(?::(ro|rw))?$/.exec(entry);
  if (match === null) {
    throw new UsageError(`invalid --volume '${entry}': expected VOL:PATH or VOL:PATH:ro`);
  }
  return { name: match[1] ?? '', path: match[2] ?? '', readOnly: match[3] === 'ro' };
}

/** -e's variables; with -t, the local terminal's type and locale first, as ssh sends them. */
function envOf(values: JobFieldValues): { env?: Record<string, string> } {
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
