// The one place that reads flags, environment variables and the config file. Every setting has
// a flag, an environment variable, a key of the config file (its flag's name) and a default; a
// flag wins over the environment, which wins over the file.
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration, parseSize } from './util/quantities.ts';
import { nearest } from './util/did-you-mean.ts';
import { FlatYamlError, parseFlatYaml } from './util/flat-yaml.ts';
import type { LimitPolicy } from './policy/limit-policy.ts';
import type { ResourceLimits } from './jobs/job.ts';
import { DEFAULT_BINDS, parseBinds, type HostBind } from './jobs/host-binds.ts';
import { isRole, type Role } from './pki/roles.ts';
import type { RevocationPolicy, ShutdownPolicy } from './jobs/job.ts';

export const PROJECT_ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly certsDir: string;
  /** Overrides of certificate roles, and disabled clients; optional. */
  readonly policyFile: string;
  readonly logLevel: string;
  /** Where log lines and audit records are shipped as RFC 5425 syslog; undefined for nowhere. */
  readonly syslog:
    { readonly url: URL; readonly caFile: string; readonly queueBytes: number } | undefined;
  readonly shutdownPolicy: ShutdownPolicy;
  /** What a revocation does to the running jobs its certificate started. */
  readonly revocationPolicy: RevocationPolicy;
  readonly stopGraceMs: number;
  readonly maxOutputBytes: number;
  /** Free space the data disk keeps: below it no job starts and output stops; 0 for none. */
  readonly minFreeDiskBytes: number;
  /** The size at which audit.log is closed and a new file started; 0 for never. */
  readonly auditRotateBytes: number;
  readonly retentionMs: number;
  /** Account jobs run as when the server is root. */
  readonly jobUser: string;
  readonly isolation: 'required' | 'best-effort';
  readonly hostNetwork: boolean;
  /** cgroup v1 hosts: turn on the cgroup2 mount option favordynmods (fast-moves.ts). */
  readonly favordynmods: boolean;
  /**
   * cgroup v2 hosts: the cgroup the jobs' tree is built in, as /proc/self/cgroup names it
   * (systemd/jobworker-jobs.service's); undefined for the root or the server's own service.
   */
  readonly cgroupParent: string | undefined;
  readonly sandbox: SandboxConfig;
  readonly limits: Omit<LimitPolicy, 'enforceable' | 'sandbox'>;
  /** What all jobs together may use: the host less what it keeps for the server and system. */
  readonly hostJobLimits: ResourceLimits;
  /** Fairness between clients: requests per second (bursts of twice that), running jobs. */
  readonly perClient: {
    readonly requestsPerSecond: number;
    readonly maxRunningJobs: number;
    readonly maxQueuedJobs: number;
    /** Authenticated connections one client may hold; more are closed after the handshake. */
    readonly connections: number;
    /** Output streams (followers) one client may hold open. */
    readonly followers: number;
    /** Jobs one client may create a minute (in bursts of as many); undefined for no limit. */
    readonly jobsPerMinute: number | undefined;
    /** What the records of one client's jobs may hold; undefined for no allowance. */
    readonly recordBytes: number | undefined;
  };
  /** Authenticated connections the server holds at all; a tenth is held back from busy clients. */
  readonly maxConnections: number;
  /** Connections whose TLS handshake is under way: at all, and from one address. */
  readonly handshakes: { readonly total: number; readonly perAddress: number };
  /** How long an answer may wait for a client that has stopped reading it. */
  readonly unreadAnswerMs: number;
}

/** The operator's sandbox: never a request's to set (a request chooses within it). */
export interface SandboxConfig {
  /** `private` gives every job its own root where the host allows; `off` runs all on the host. */
  readonly mode: 'private' | 'off';
  readonly binds: readonly HostBind[];
  readonly uidRange: { readonly first: number; readonly count: number };
  readonly hostRoles: ReadonlySet<Role>;
}

interface Setting {
  readonly flag: string;
  readonly env: string;
  readonly fallback: string;
  readonly help: string;
  /** The default as the example config file shows it, where it is worked out on each host. */
  readonly exampleFallback?: string;
}

export const SETTINGS = {
  host: { flag: 'host', env: 'HOST', fallback: '127.0.0.1', help: 'address to listen on' },
  port: { flag: 'port', env: 'PORT', fallback: '8443', help: 'port to listen on (0 picks one)' },
  dataDir: {
    flag: 'data-dir',
    env: 'DATA_DIR',
    fallback: resolve(PROJECT_ROOT, 'data'),
    exampleFallback: 'data (in the project directory)',
    help: 'database and job output',
  },
  certsDir: {
    flag: 'certs-dir',
    env: 'CERTS_DIR',
    fallback: resolve(PROJECT_ROOT, 'certs'),
    exampleFallback: 'certs (in the project directory)',
    help: 'CA, server and client certificates',
  },
  policy: {
    flag: 'policy',
    env: 'POLICY_FILE',
    fallback: '',
    help: 'identity policy file (default: policy.json in the certs directory)',
  },
  logLevel: {
    flag: 'log-level',
    env: 'LOG_LEVEL',
    fallback: 'info',
    help: 'least important log lines written: fatal, error, warn, info, debug, trace or silent',
  },
  syslog: {
    flag: 'syslog',
    env: 'SYSLOG_URL',
    fallback: '',
    help: 'tls://HOST:PORT: also ship log lines and audit records there as RFC 5424 syslog over mutual TLS (RFC 5425)',
  },
  syslogQueue: {
    flag: 'syslog-queue',
    env: 'SYSLOG_QUEUE',
    fallback: '8MiB',
    help: 'log lines that may wait for an unreachable syslog collector; beyond it they are dropped and counted',
  },
  syslogCa: {
    flag: 'syslog-ca',
    env: 'SYSLOG_CA',
    fallback: '',
    help: "the CA that signed the syslog collector's certificate (default: this server's CA)",
  },
  shutdown: {
    flag: 'shutdown',
    env: 'SHUTDOWN_POLICY',
    fallback: 'leave-running',
    help: "on SIGTERM/SIGINT: 'leave-running' or 'stop' jobs",
  },
  onRevoke: {
    flag: 'on-revoke',
    env: 'ON_REVOKE',
    fallback: 'stop',
    help: "when a client certificate is revoked: 'stop' the running jobs it started or 'leave' them running; its queued jobs never start either way",
  },
  stopGrace: {
    flag: 'stop-grace',
    env: 'STOP_GRACE',
    fallback: '5s',
    help: 'time between SIGTERM and SIGKILL on stop',
  },
  maxOutput: {
    flag: 'max-output',
    env: 'MAX_OUTPUT',
    fallback: '1GiB',
    help: 'output kept per job; more is dropped (0: no cap)',
  },
  minFreeDisk: {
    flag: 'min-free-disk',
    env: 'MIN_FREE_DISK',
    fallback: '1GiB',
    help: "free space the data disk keeps: below it no job starts (507) and jobs' output stops being recorded (0: no floor)",
  },
  auditRotateSize: {
    flag: 'audit-rotate-size',
    env: 'AUDIT_ROTATE_SIZE',
    fallback: '64MiB',
    help: 'close audit.log at this size and go on in a new one, the chain continuing (closed files: audit-SEQ.log; 0: never)',
  },
  retention: {
    flag: 'retention',
    env: 'RETENTION',
    fallback: '7d',
    help: 'ended jobs are deleted after this long (0: never)',
  },
  jobUser: {
    flag: 'job-user',
    env: 'JOB_USER',
    fallback: 'nobody',
    help: 'account jobs run as (server must be root)',
  },
  isolation: {
    flag: 'isolation',
    env: 'ISOLATION',
    fallback: 'best-effort',
    help: "'required' refuses jobs the host cannot isolate and limit",
  },
  favordynmods: {
    flag: 'cgroup-favordynmods',
    env: 'CGROUP_FAVORDYNMODS',
    fallback: 'true',
    help: "cgroup v1 hosts: remount cgroup2 with 'favordynmods' so a job's cgroup move does not wait 7-20 ms (host-wide)",
  },
  cgroupParent: {
    flag: 'cgroup-parent',
    env: 'CGROUP_PARENT',
    fallback: '',
    help: "cgroup v2 hosts: the cgroup to build the jobs' tree in, as /proc/self/cgroup names it, e.g. /system.slice/jobworker-jobs.service; its processes move to a leaf beside the tree (default: the root, or the server's own service cgroup; ignored on v1)",
  },
  hostNetwork: {
    flag: 'host-network',
    env: 'HOST_NETWORK',
    fallback: 'false',
    help: 'let jobs use the host network',
  },
  sandbox: {
    flag: 'sandbox',
    env: 'SANDBOX',
    fallback: 'private',
    help: "'private': each job gets its own root, tmpfs and uid where the host allows; 'off'",
  },
  sandboxBinds: {
    flag: 'sandbox-binds',
    env: 'SANDBOX_BINDS',
    fallback: DEFAULT_BINDS,
    help: 'host paths a sandboxed job sees, comma-separated, each PATH (read-only) or PATH:rw',
  },
  sandboxUidFirst: {
    flag: 'sandbox-uid-first',
    env: 'SANDBOX_UID_FIRST',
    fallback: '200000',
    help: 'first uid given to a client (each client gets its own, kept in the store)',
  },
  sandboxUidCount: {
    flag: 'sandbox-uid-count',
    env: 'SANDBOX_UID_COUNT',
    fallback: '65536',
    help: 'how many uids clients may be given',
  },
  sandboxHostRoles: {
    flag: 'sandbox-host-roles',
    env: 'SANDBOX_HOST_ROLES',
    fallback: 'admin',
    help: 'roles that may run jobs on the host\'s filesystem ("sandbox": "host"), comma-separated',
  },
  defaultCpus: {
    flag: 'default-cpus',
    env: 'DEFAULT_CPUS',
    fallback: '1',
    help: 'CPU quota of a job that asks for none',
  },
  defaultMemory: {
    flag: 'default-memory',
    env: 'DEFAULT_MEMORY',
    fallback: '512MiB',
    help: 'memory cap of a job that asks for none',
  },
  defaultPids: {
    flag: 'default-pids',
    env: 'DEFAULT_PIDS',
    fallback: '512',
    help: 'process cap of a job that asks for none',
  },
  defaultTimeout: {
    flag: 'default-timeout',
    env: 'DEFAULT_TIMEOUT',
    fallback: '0',
    help: 'wall-clock limit of a job that asks for none (0: none)',
  },
  clientCpus: {
    flag: 'client-cpus',
    env: 'CLIENT_CPUS',
    fallback: String(Math.max(2, Math.round(availableParallelism() * 0.75 * 100) / 100)),
    exampleFallback: "3/4 of the host's CPUs, at least 2",
    help: "CPUs all running jobs of one user-role client may use together (3/4 of the host's, at least 2)",
  },
  clientMemory: {
    flag: 'client-memory',
    env: 'CLIENT_MEMORY',
    fallback: `${Math.floor(totalmem() / 2 / 1024 ** 2)}MiB`,
    exampleFallback: "half the host's memory",
    help: "memory all running jobs of one user-role client may use together (half the host's)",
  },
  clientPids: {
    flag: 'client-pids',
    env: 'CLIENT_PIDS',
    fallback: '4096',
    help: 'processes all running jobs of one user-role client may have together',
  },
  clientOutput: {
    flag: 'client-output',
    env: 'CLIENT_OUTPUT',
    fallback: '16GiB',
    help: 'output kept for all jobs of one user-role client, running and ended (0: no budget)',
  },
  clientRecordBytes: {
    flag: 'client-record-bytes',
    env: 'CLIENT_RECORD_BYTES',
    fallback: '256MiB',
    help: "what the records of one client's jobs may hold together: their command lines and environment variable names (507 beyond; 0: no allowance)",
  },
  hostReserveMemory: {
    flag: 'host-reserve-memory',
    env: 'HOST_RESERVE_MEMORY',
    fallback: '1GiB',
    help: 'memory all jobs together leave to the server and the system',
  },
  hostReservePids: {
    flag: 'host-reserve-pids',
    env: 'HOST_RESERVE_PIDS',
    fallback: '1024',
    help: "processes all jobs together leave to the server and the system (of the kernel's pid_max)",
  },
  clientConnections: {
    flag: 'client-connections',
    env: 'CLIENT_CONNECTIONS',
    fallback: '256',
    help: 'connections one client may hold open at once',
  },
  clientFollowers: {
    flag: 'client-followers',
    env: 'CLIENT_FOLLOWERS',
    fallback: '128',
    help: 'output streams (followers) one client may hold open at once (429 beyond)',
  },
  unreadTimeout: {
    flag: 'unread-timeout',
    env: 'UNREAD_TIMEOUT',
    fallback: '30s',
    help: 'how long an answer may wait for a client that has stopped reading it (its connection not draining) before the connection is closed',
  },
  maxConnections: {
    flag: 'max-connections',
    env: 'MAX_CONNECTIONS',
    fallback: '4096',
    help: 'authenticated connections the server holds at all; the last tenth only for admins and light clients',
  },
  maxHandshakes: {
    flag: 'max-handshakes',
    env: 'MAX_HANDSHAKES',
    fallback: '512',
    help: 'connections whose TLS handshake is under way; past it the oldest that has sent nothing is closed',
  },
  addressHandshakes: {
    flag: 'address-handshakes',
    env: 'ADDRESS_HANDSHAKES',
    fallback: '256',
    help: 'connections from one address whose TLS handshake is under way; past it the oldest that has sent nothing is closed',
  },
  clientRate: {
    flag: 'client-rate',
    env: 'CLIENT_RATE_LIMIT',
    fallback: '100',
    help: 'requests per second each client may make (bursts of twice that)',
  },
  clientJobRate: {
    flag: 'client-job-rate',
    env: 'CLIENT_JOB_RATE',
    fallback: '',
    help: 'jobs one client may create a minute, in bursts of as many (429 beyond; 0: no limit) (default: 60 times --client-rate, at least 6000)',
  },
  clientMaxRunning: {
    flag: 'client-max-running',
    env: 'CLIENT_MAX_RUNNING',
    fallback: '64',
    help: 'jobs one client may have running at once; more wait in the queue',
  },
  clientMaxQueued: {
    flag: 'client-max-queued',
    env: 'CLIENT_MAX_QUEUED',
    fallback: '1000',
    help: 'jobs one client may have waiting in the queue (429 QUEUE_FULL beyond)',
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The config file's own flag and variable: not a setting, since a file cannot name another. */
export const CONFIG_FILE = {
  flag: 'config',
  env: 'CONFIG_FILE',
  help: 'a YAML file of settings, one `key: value` a line, keyed by flag (port: 8443)',
} as const;

/** Where a setting's value came from: `--check` prints it, and an error names it. */
export type SettingOrigin =
  | { readonly kind: 'flag' }
  | { readonly kind: 'environment' }
  | { readonly kind: 'file'; readonly path: string; readonly line: number }
  | { readonly kind: 'default' };

/** A setting's value as text, before it is checked, and where it came from. */
export interface EffectiveSetting {
  readonly text: string;
  readonly origin: SettingOrigin;
}

export type EffectiveSettings = ReadonlyMap<SettingName, EffectiveSetting>;

/**
 * A setting that cannot be used, or a config file that cannot be read. `setting` and `problem`
 * are set when one setting's value is at fault, so the error can say where that value came from.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly setting: SettingName | undefined;
  readonly problem: string | undefined;
  constructor(message: string, setting?: SettingName, problem?: string) {
    super(message);
    this.name = 'ConfigError';
    this.setting = setting;
    this.problem = problem;
  }
}

/** A value of one setting that is wrong: "--port (PORT) must be ...". */
function settingError(name: SettingName, problem: string): ConfigError {
  return new ConfigError(`${settingName(name)} ${problem}`, name, problem);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `--help`: every setting with its variable, its default and what it does. */
export function usage(): string {
  const rows = Object.values(SETTINGS).map((setting) => {
    const fallback = setting.fallback === '' ? '' : ` (default ${setting.fallback})`;
    return `  --${setting.flag} VALUE, ${setting.env}=VALUE${fallback}\n      ${setting.help}\n`;
  });
  return `Usage: npm start -- [--config FILE] [--SETTING VALUE]... [--check]
       (or node src/server.ts ...)

Serves the job API over mutual TLS. Every setting is a flag, an environment variable or a
key of the config file (the flag's name: \`port: 8443\`); a flag wins over the environment,
which wins over the file. A development PKI is made in the certificates directory on first
start.

  --${CONFIG_FILE.flag} FILE, ${CONFIG_FILE.env}=FILE
      ${CONFIG_FILE.help}
  --check
      check the settings (flags, environment, config file), print each with where it came
      from, and exit: 0 if they are valid, 2 naming the bad one; starts nothing
  --help
      this

Settings:
${rows.join('')}`;
}

/**
 * Each setting's value as text and where it came from: the flag, else the environment, else the
 * config file (`--config` or CONFIG_FILE), else the default. Reads the file; checks no value.
 */
export function effectiveSettings(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): EffectiveSettings {
  const values = parseFlags(argv);
  const configPath = values[CONFIG_FILE.flag] ?? env[CONFIG_FILE.env] ?? '';
  const file = configPath === '' ? new Map<string, FileValue>() : readConfigFile(configPath);
  const settings = new Map<SettingName, EffectiveSetting>();
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    const fromFlag = values[setting.flag];
    const fromEnv = env[setting.env];
    const fromFile = file.get(setting.flag);
    if (typeof fromFlag === 'string') {
      settings.set(name, { text: fromFlag, origin: { kind: 'flag' } });
    } else if (fromEnv !== undefined) {
      settings.set(name, { text: fromEnv, origin: { kind: 'environment' } });
    } else if (fromFile !== undefined) {
      settings.set(name, {
        text: fromFile.text,
        origin: { kind: 'file', path: resolve(configPath), line: fromFile.line },
      });
    } else {
      settings.set(name, { text: setting.fallback, origin: { kind: 'default' } });
    }
  }
  return settings;
}

/** The flags given, each a setting's or --config; an unknown one is named with its near miss. */
function parseFlags(argv: readonly string[]): Record<string, string | undefined> {
  try {
    return parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        [CONFIG_FILE, ...Object.values(SETTINGS)].map((setting) => [
          setting.flag,
          { type: 'string' as const },
        ]),
      ),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    const unknown = /^Unknown option '--([^']+)'/.exec((error as Error).message)?.[1];
    if (unknown === undefined) throw new ConfigError((error as Error).message);
    throw new ConfigError(`unknown flag --${unknown}${suggestion(unknown, '--')}`);
  }
}

/** A value of the config file, with its line. */
interface FileValue {
  readonly text: string;
  readonly line: number;
}

/** The config file's values by key; every key must be a setting's flag. */
function readConfigFile(path: string): Map<string, FileValue> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the config file: ${(error as Error).message}`);
  }
  let entries;
  try {
    entries = parseFlatYaml(text);
  } catch (error) {
    if (!(error instanceof FlatYamlError)) throw error;
    throw new ConfigError(`${resolve(path)}:${error.line}: ${error.message}`);
  }
  const flags = new Set<string>(Object.values(SETTINGS).map((setting) => setting.flag));
  for (const { key, line } of entries) {
    if (!flags.has(key)) {
      throw new ConfigError(`${resolve(path)}:${line}: unknown setting '${key}'${suggestion(key)}`);
    }
  }
  return new Map(entries.map(({ key, text, line }) => [key, { text, line }]));
}

/** " (did you mean 'client-rate'?)" for a near miss of a flag, or of its variable's name. */
function suggestion(key: string, prefix = ''): string {
  const flagOf = new Map<string, string>(
    Object.values(SETTINGS).flatMap((setting) => [
      [setting.flag, setting.flag],
      [setting.env, setting.flag],
    ]),
  );
  const near = nearest(key, [...flagOf.keys()]);
  return near === undefined ? '' : ` (did you mean '${prefix}${flagOf.get(near) ?? near}'?)`;
}

/** Where a value came from, as `--check` prints it. */
export function describeOrigin(name: SettingName, origin: SettingOrigin): string {
  switch (origin.kind) {
    case 'flag':
      return `flag --${SETTINGS[name].flag}`;
    case 'environment':
      return `environment ${SETTINGS[name].env}`;
    case 'file':
      return `file ${origin.path}:${origin.line}`;
    case 'default':
      return 'default';
  }
}

/**
 * `--check`'s report: every effective setting as a line of a config file (so it can be pasted
 * into one), with where it came from as the line's comment.
 */
export function describeSettings(settings: EffectiveSettings): string {
  const lines = [...settings].map(([name, { text, origin }]) => [
    `${SETTINGS[name].flag}: ${yamlValue(text)}`,
    describeOrigin(name, origin),
  ]);
  const width = Math.max(...lines.map(([line]) => (line ?? '').length));
  return lines.map(([line, origin]) => `${(line ?? '').padEnd(width)}  # ${origin}\n`).join('');
}

/** A value as a YAML scalar: plain where that reads back the same, else double-quoted. */
function yamlValue(text: string): string {
  const plain = /^[A-Za-z0-9/._][A-Za-z0-9/._:,@+ -]*$/.test(text) && !/:\s|\s$/.test(text);
  return plain && !/^(~|null|Null|NULL)$/.test(text) ? text : JSON.stringify(text);
}

export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  return checkSettings(effectiveSettings(argv, env));
}

/** The configuration the settings make, or a ConfigError naming the first bad one. */
export function checkSettings(settings: EffectiveSettings): Config {
  const read = (name: SettingName): string => settings.get(name)?.text ?? SETTINGS[name].fallback;
  try {
    return configFrom(read);
  } catch (error) {
    throw error instanceof ConfigError ? withOrigin(error, settings) : error;
  }
}

/** A bad value from the config file is named by its key, file and line rather than its flag. */
function withOrigin(error: ConfigError, settings: EffectiveSettings): ConfigError {
  const origin = error.setting === undefined ? undefined : settings.get(error.setting)?.origin;
  if (origin?.kind !== 'file' || error.setting === undefined) return error;
  const key = SETTINGS[error.setting].flag;
  return new ConfigError(
    `${origin.path}:${origin.line}: ${key} ${error.problem ?? error.message}`,
    error.setting,
    error.problem,
  );
}

function configFrom(read: (name: SettingName) => string): Config {
  const defaultTimeoutMs = duration('defaultTimeout', read('defaultTimeout'));
  return {
    host: read('host'),
    port: integer('port', read('port'), 0, 65535),
    dataDir: resolve(read('dataDir')),
    certsDir: resolve(read('certsDir')),
    policyFile: resolve(read('certsDir'), read('policy') || 'policy.json'),
    logLevel: oneOf('logLevel', read('logLevel'), LOG_LEVELS),
    syslog: syslogTarget(read('syslog'), read('syslogCa'), resolve(read('certsDir')), () =>
      size('syslogQueue', read('syslogQueue'), false),
    ),
    shutdownPolicy: oneOf('shutdown', read('shutdown'), ['leave-running', 'stop'] as const),
    revocationPolicy: oneOf('onRevoke', read('onRevoke'), ['stop', 'leave'] as const),
    stopGraceMs: duration('stopGrace', read('stopGrace')),
    maxOutputBytes: size('maxOutput', read('maxOutput'), true),
    minFreeDiskBytes: size('minFreeDisk', read('minFreeDisk'), true),
    auditRotateBytes: size('auditRotateSize', read('auditRotateSize'), true),
    retentionMs: duration('retention', read('retention')),
    jobUser: read('jobUser'),
    isolation: oneOf('isolation', read('isolation'), ['required', 'best-effort'] as const),
    hostNetwork: oneOf('hostNetwork', read('hostNetwork'), ['true', 'false'] as const) === 'true',
    favordynmods:
      oneOf('favordynmods', read('favordynmods'), ['true', 'false'] as const) === 'true',
    cgroupParent: cgroupPath('cgroupParent', read('cgroupParent')),
    sandbox: sandboxConfig(read),
    hostJobLimits: hostJobLimits(read),
    perClient: {
      requestsPerSecond: positiveNumber('clientRate', read('clientRate')),
      maxRunningJobs: integer('clientMaxRunning', read('clientMaxRunning'), 1, 1_000_000),
      maxQueuedJobs: integer('clientMaxQueued', read('clientMaxQueued'), 0, 1_000_000),
      connections: integer('clientConnections', read('clientConnections'), 1, 1_000_000),
      followers: integer('clientFollowers', read('clientFollowers'), 1, 1_000_000),
      jobsPerMinute: jobsPerMinute(read),
      recordBytes: size('clientRecordBytes', read('clientRecordBytes'), true) || undefined,
    },
    maxConnections: integer('maxConnections', read('maxConnections'), 10, 1_000_000),
    handshakes: {
      total: integer('maxHandshakes', read('maxHandshakes'), 1, 1_000_000),
      perAddress: integer('addressHandshakes', read('addressHandshakes'), 1, 1_000_000),
    },
    unreadAnswerMs: positiveDuration('unreadTimeout', read('unreadTimeout')),
    limits: {
      defaults: {
        cpus: positiveNumber('defaultCpus', read('defaultCpus')),
        memoryBytes: size('defaultMemory', read('defaultMemory')),
        pids: integer('defaultPids', read('defaultPids'), 1, 4_194_304),
      },
      defaultTimeoutMs: defaultTimeoutMs === 0 ? undefined : defaultTimeoutMs,
      // Admins are held by the host's reserve alone; auditors start nothing.
      clientTotals: {
        admin: {},
        user: {
          cpus: positiveNumber('clientCpus', read('clientCpus')),
          memoryBytes: size('clientMemory', read('clientMemory')),
          pids: integer('clientPids', read('clientPids'), 1, 4_194_304),
        },
        auditor: {},
      },
      outputBudgets: outputBudgets(size('clientOutput', read('clientOutput'), true)),
      // Ceilings on what a request may ask for, by role. Admins are trusted with the host;
      // users get enough for builds and tests; auditors cannot start jobs at all.
      ceilings: {
        admin: { cpus: 64, memoryBytes: 64 * 1024 ** 3, pids: 65_536 },
        user: {
          cpus: 2,
          memoryBytes: 4 * 1024 ** 3,
          pids: 4096,
          ioReadBytesPerSecond: 1024 ** 3,
          ioWriteBytesPerSecond: 1024 ** 3,
          timeoutMs: 24 * 3_600_000,
        },
        auditor: { cpus: 0, memoryBytes: 0, pids: 0 },
      },
    },
  };
}

/**
 * Jobs one client may create a minute. By default a minute of the request rate, and never fewer
 * than 6,000 (100 a second): test suites and benchmarks start thousands of jobs a minute as one
 * client, and the records such a rate writes are bounded by --client-record-bytes anyway.
 */
function jobsPerMinute(read: (name: SettingName) => string): number | undefined {
  const text = read('clientJobRate');
  if (text === '') {
    return Math.max(6000, Math.ceil(60 * positiveNumber('clientRate', read('clientRate'))));
  }
  return integer('clientJobRate', text, 0, 1_000_000_000) || undefined;
}

function outputBudgets(user: number): LimitPolicy['outputBudgets'] {
  return user === 0 ? {} : { user };
}

/** The host less its reserve, as limits on the cgroup that holds every job. */
function hostJobLimits(read: (name: SettingName) => string): ResourceLimits {
  const reserveMemory = size('hostReserveMemory', read('hostReserveMemory'), true);
  const reservePids = integer('hostReservePids', read('hostReservePids'), 0, 4_194_304);
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  return {
    memoryBytes: Math.max(256 * 1024 ** 2, totalmem() - reserveMemory),
    pids: Math.max(64, pidMax - reservePids),
  };
}

function sandboxConfig(read: (name: SettingName) => string): SandboxConfig {
  let binds: HostBind[];
  try {
    binds = parseBinds(read('sandboxBinds'));
  } catch (error) {
    throw settingError('sandboxBinds', (error as Error).message);
  }
  const first = integer('sandboxUidFirst', read('sandboxUidFirst'), 1, 2 ** 31 - 2);
  const count = integer('sandboxUidCount', read('sandboxUidCount'), 1, 2 ** 31 - 1 - first);
  const roles = read('sandboxHostRoles')
    .split(',')
    .map((role) => role.trim())
    .filter((role) => role !== '');
  const unknown = roles.filter((role) => !isRole(role));
  if (unknown.length > 0) {
    throw settingError('sandboxHostRoles', `has unknown roles ${unknown.join(', ')}`);
  }
  return {
    mode: oneOf('sandbox', read('sandbox'), ['private', 'off'] as const),
    binds,
    uidRange: { first, count },
    hostRoles: new Set(roles.filter(isRole)),
  };
}

function settingName(name: SettingName): string {
  return `--${SETTINGS[name].flag} (${SETTINGS[name].env})`;
}

function integer(name: SettingName, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw settingError(name, `must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

function positiveNumber(name: SettingName, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw settingError(name, `must be a positive number, got '${text}'`);
  }
  return value;
}

function duration(name: SettingName, text: string): number {
  const value = parseDuration(text);
  if (value === undefined)
    throw settingError(name, `must be a duration such as 5s or 7d, got '${text}'`);
  return value;
}

function positiveDuration(name: SettingName, text: string): number {
  const value = duration(name, text);
  if (value === 0) throw settingError(name, `must be longer than 0, got '${text}'`);
  return value;
}

function size(name: SettingName, text: string, zeroAllowed = false): number {
  const value = parseSize(text);
  if (value === undefined || (!zeroAllowed && value === 0)) {
    throw settingError(name, `must be a size such as 512MiB, got '${text}'`);
  }
  return value;
}

/**
 * A cgroup's path below the hierarchy's root, as /proc/self/cgroup gives it; undefined when not
 * set. No empty, `.` or `..` segment: it is joined to the mount point and must stay below it.
 */
function cgroupPath(name: SettingName, text: string): string | undefined {
  if (text === '') return undefined;
  const segments = text.split('/').slice(1);
  if (!text.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw settingError(
      name,
      'must be a cgroup below the root as /proc/self/cgroup names it, ' +
        `such as /system.slice/jobworker-jobs.service, got '${text.slice(0, 100)}'`,
    );
  }
  return text;
}

function oneOf<T extends string>(name: SettingName, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw settingError(name, `must be one of ${allowed.join(', ')}, got '${text}'`);
  }
  return text as T;
}

/** `tls://HOST:PORT` and the CA to check the collector with; undefined when not set. */
function syslogTarget(
  text: string,
  caFile: string,
  certsDir: string,
  queueBytes: () => number,
): { url: URL; caFile: string; queueBytes: number } | undefined {
  if (text === '') return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw settingError('syslog', `must be tls://HOST:PORT, got '${text.slice(0, 100)}'`);
  }
  if (url.protocol !== 'tls:' || url.hostname === '' || url.port === '' || url.pathname !== '') {
    throw settingError('syslog', `must be tls://HOST:PORT, got '${text.slice(0, 100)}'`);
  }
  return { url, caFile: resolve(caFile || join(certsDir, 'ca.pem')), queueBytes: queueBytes() };
}

/**
 * An example config file: `header`, then every setting's help, variable and default as comments,
 * and below the default the value `active` gives it, if any. systemd/config.yaml is made by this
 * (`node scripts/config-example.ts`), and a test keeps it so.
 */
export function exampleConfig(header: string, active: ReadonlyMap<string, string>): string {
  const blocks = Object.values(SETTINGS).map((setting: Setting) => {
    const help = wrapComment(`${setting.help} (${setting.env})`);
    const fallback = setting.exampleFallback ?? setting.fallback;
    const value = active.get(setting.flag);
    const set = value === undefined ? '' : `${setting.flag}: ${yamlValue(value)}\n`;
    return `${help}#${setting.flag}: ${yamlValue(fallback)}\n${set}`;
  });
  return `${header.trimEnd()}\n\n${blocks.join('\n')}`;
}

/** Text as `# ` lines of at most 100 columns. */
function wrapComment(text: string): string {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(' ')) {
    if (line.length + 1 + word.length > 100 && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  return `${[...lines, line].join('\n')}\n`;
}
