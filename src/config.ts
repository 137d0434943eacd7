// The one place that reads flags, environment variables and the config file. Every setting has
// a flag, an environment variable, a key of the config file (its flag's name) and a default; a
// flag wins over the environment, which wins over the file. The table of settings, where their
// values come from, the checks of one value and the settings in words are in config/; this turns
// the settings into the server's Config.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { LimitPolicy } from './policy/limit-policy.ts';
import type { ResourceLimits } from './jobs/job.ts';
import { parseBinds, type HostBind } from './jobs/host-binds.ts';
import { isRole, type Role } from './pki/roles.ts';
import type { RevocationPolicy, ShutdownPolicy } from './jobs/job.ts';
import { ConfigError, settingError } from './config/config-error.ts';
import { effectiveSettings, type EffectiveSettings } from './config/effective-settings.ts';
import {
  cgroupPath,
  duration,
  integer,
  oneOf,
  positiveDuration,
  positiveNumber,
  size,
  syslogTarget,
} from './config/setting-values.ts';
import { list, networkSettings, type NetworkSettings } from './config/network-settings.ts';
import { SETTINGS, type SettingName } from './config/settings.ts';

export { ConfigError } from './config/config-error.ts';
export {
  effectiveSettings,
  type EffectiveSetting,
  type EffectiveSettings,
  type SettingOrigin,
} from './config/effective-settings.ts';
export {
  describeOrigin,
  describeSettings,
  exampleConfig,
  usage,
} from './config/describe-settings.ts';
export { CONFIG_FILE, PROJECT_ROOT, SETTINGS, type SettingName } from './config/settings.ts';

export interface Config extends NetworkSettings {
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
  /** Roles that may ask for `"network": "egress"`. */
  readonly networkEgressRoles: ReadonlySet<Role>;
  /** Roles that may ask for `"network": "host"`. */
  readonly networkHostRoles: ReadonlySet<Role>;
  /** cgroup v1 hosts: turn on the cgroup2 mount option favordynmods (fast-moves.ts). */
  readonly favordynmods: boolean;
  /**
   * cgroup v2 hosts: the cgroup the jobs' tree is built in, as /proc/self/cgroup names it
   * (systemd/jobworker-jobs.service's); undefined for the root or the server's own service.
   */
  readonly cgroupParent: string | undefined;
  readonly sandbox: SandboxConfig;
  readonly limits: Omit<LimitPolicy, 'enforceable' | 'sandbox' | 'network'>;
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
  /**
   * What one client's volumes may take together and how many it may have, by role; a bound
   * left out is none (admins are held by the data disk alone; auditors make none).
   */
  readonly volumeBudgets: Readonly<
    Record<Role, { readonly totalBytes?: number; readonly count?: number }>
  >;
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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

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
    ...networkSettings(read),
    networkEgressRoles: roles('networkEgressRoles', read('networkEgressRoles')),
    networkHostRoles: roles('networkHostRoles', read('networkHostRoles')),
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
    volumeBudgets: volumeBudgets(read),
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

/** The users' volume budgets from the settings (0: none); admins' and auditors' have no bound. */
function volumeBudgets(read: (name: SettingName) => string): Config['volumeBudgets'] {
  const totalBytes = size('clientVolumeBytes', read('clientVolumeBytes'), true);
  const count = integer('clientVolumes', read('clientVolumes'), 0, 1_000_000);
  return {
    admin: {},
    user: {
      ...(totalBytes === 0 ? {} : { totalBytes }),
      ...(count === 0 ? {} : { count }),
    },
    auditor: {},
  };
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
  return {
    mode: oneOf('sandbox', read('sandbox'), ['private', 'off'] as const),
    binds,
    uidRange: { first, count },
    hostRoles: roles('sandboxHostRoles', read('sandboxHostRoles')),
  };
}

/** The roles a comma-separated setting names (SANDBOX_HOST_ROLES, NETWORK_*_ROLES). */
function roles(name: SettingName, text: string): ReadonlySet<Role> {
  const named = list(text);
  const unknown = named.filter((role) => !isRole(role));
  if (unknown.length > 0) throw settingError(name, `has unknown roles ${unknown.join(', ')}`);
  return new Set(named.filter(isRole));
}
