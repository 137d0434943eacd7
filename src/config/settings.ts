// Every setting of the server in one table: its flag (also its key in the config file), its
// environment variable, its default and its help. The flags, the config file, --help, --check and
// the example config file are all read from it, so a setting cannot be missing from one of them.
import { availableParallelism, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BINDS } from '../jobs/host-binds.ts';
import { hostResolvers } from './host-resolvers.ts';

export const PROJECT_ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

export interface Setting {
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
    help: 'deprecated, goes in the next release: true is --network-default host',
  },
  networkDefault: {
    flag: 'network-default',
    env: 'NETWORK_DEFAULT',
    fallback: 'none',
    help: "network of a job that names none, within what its role may have: 'none' (its own loopback only), 'egress' (out through the host's filter) or 'host' (the host's own)",
  },
  networkEgressRoles: {
    flag: 'network-egress-roles',
    env: 'NETWORK_EGRESS_ROLES',
    fallback: 'admin,user',
    help: 'roles that may ask for "network": "egress", comma-separated',
  },
  networkHostRoles: {
    flag: 'network-host-roles',
    env: 'NETWORK_HOST_ROLES',
    fallback: 'admin',
    help: 'roles that may ask for "network": "host" (the host\'s own network), comma-separated',
  },
  networkJobCidr: {
    flag: 'network-job-cidr',
    env: 'NETWORK_JOB_CIDR',
    fallback: '10.200.0.0/16',
    help: "IPv4 range egress jobs' addresses come from; it must not overlap the host's networks",
  },
  networkEgressAllow: {
    flag: 'network-egress-allow',
    env: 'NETWORK_EGRESS_ALLOW',
    fallback: '',
    help: 'what egress jobs may reach, comma-separated CIDR[:PORT[-PORT]] (default: public unicast addresses, all ports); never the host itself or other jobs',
  },
  networkDns: {
    flag: 'network-dns',
    env: 'NETWORK_DNS',
    fallback: hostResolvers(),
    exampleFallback: "the host's IPv4 resolvers in /etc/resolv.conf, less those on loopback",
    help: "resolvers egress jobs are given (port 53 reachable whatever the allow list says), comma-separated IPv4 addresses (default: the host's, unless on loopback)",
  },
  networkTestPublic: {
    flag: 'network-test-public',
    env: 'NETWORK_TEST_PUBLIC',
    fallback: '',
    help: 'for tests: IPv4 ranges counted as public addresses for egress, comma-separated (e.g. 198.51.100.0/24)',
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
  clientVolumeBytes: {
    flag: 'client-volume-bytes',
    env: 'CLIENT_VOLUME_BYTES',
    fallback: '8GiB',
    help: 'what all volumes of one user-role client may take together, reserved on the data disk (0: no budget)',
  },
  clientVolumes: {
    flag: 'client-volumes',
    env: 'CLIENT_VOLUMES',
    fallback: '32',
    help: 'volumes one user-role client may have (0: no budget)',
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
