// Launches each job under its own supervisor process (native/jobshim.c), which places the job in
// its cgroup before it runs, gives it its namespaces and user, records its output and exit status
// on disk, and keeps doing so if the server dies. Node cannot set clone flags or exec in place,
// hence the small C program rather than `child_process` alone.
import { existsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import {
  CommandCannotRunError,
  CommandNotFoundError,
  LaunchFailedError,
  LimitNotEnforceableError,
} from '../errors.ts';
import { jobFile, jobFiles } from '../jobs/job-directory.ts';
import type { JobSpec, ResourceLimits } from '../jobs/job.ts';
import { blockDevicesOf } from './block-devices.ts';
import {
  groupNameOf,
  type CgroupDriver,
  type JobCgroup,
  type LimitKind,
} from './cgroups/cgroup.ts';
import { DEFAULT_PATH, jobEnvironment, SANDBOX_ACCOUNT } from './environment.ts';
import type { JobUser } from './job-user.ts';
import {
  outcomeWithoutExit,
  type LaunchRequest,
  type LaunchResult,
  type Launcher,
  type Protections,
  type ReattachResult,
} from './launcher.ts';
import {
  ShimJobHandle,
  collectOutcome,
  outcomeFromStatus,
  supervisorHasExited,
} from './shim-handle.ts';
import { describeBinds, sandboxArguments, type SandboxSettings } from './sandbox.ts';
import { readShimStatus, writeEnvironmentFile } from './shim-files.ts';
import { SupervisorSpawner, type SpawnReply } from './supervisor-spawner.ts';
import { SHIM_PATH } from './built-programs.ts';

export interface IsolationSettings {
  /** Own PID and mount namespaces (and /proc) per job. */
  readonly pidNamespace: boolean;
  /** Own network namespace with only loopback; false lets jobs use the host network. */
  readonly networkNamespace: boolean;
  /** The account jobs on the host's filesystem run as; undefined: the server's own user. */
  readonly user: JobUser | undefined;
  /** The private sandbox (needs root and the PID namespace); undefined where there is none. */
  readonly sandbox: SandboxSettings | undefined;
  /** Refuse to start jobs rather than run them with less protection than configured. */
  readonly required: boolean;
}

const LIMIT_FIELDS: Readonly<Record<keyof ResourceLimits, LimitKind>> = {
  cpus: 'cpu',
  memoryBytes: 'memory',
  pids: 'pids',
  ioReadBytesPerSecond: 'io',
  ioWriteBytesPerSecond: 'io',
};

export class ShimLauncher implements Launcher {
  readonly protections: Protections;
  readonly #cgroups: CgroupDriver | undefined;
  readonly #isolation: IsolationSettings;
  readonly #shimPath: string;
  readonly #spawner: SupervisorSpawner;
  readonly #refusal: string | undefined;

  constructor(
    cgroups: CgroupDriver | undefined,
    isolation: IsolationSettings,
    shimPath = SHIM_PATH,
  ) {
    if (!existsSync(shimPath)) {
      throw new Error(`job supervisor ${shimPath} is missing: run 'npm install' to build it`);
    }
    this.#cgroups = cgroups;
    this.#isolation = isolation;
    this.#shimPath = shimPath;
    this.#spawner = new SupervisorSpawner();
    this.protections = {
      cgroups: cgroups?.version ?? 'none',
      enforceableLimits: [...(cgroups?.enforceable ?? [])],
      pidNamespace: isolation.pidNamespace,
      mountNamespace: isolation.pidNamespace,
      networkNamespace: isolation.networkNamespace,
      jobUser: isolation.user?.name ?? `uid ${process.getuid?.() ?? 'unknown'}`,
      sandbox: sandboxProtections(isolation.sandbox),
    };
    this.#refusal = isolation.required ? missingProtection(cgroups, isolation) : undefined;
  }

  /** Supervisors already started run on; later launches fail. */
  close(): Promise<void> {
    return this.#spawner.close();
  }

  async launch(request: LaunchRequest): Promise<LaunchResult> {
    if (this.#refusal !== undefined) throw new LimitNotEnforceableError('isolation', this.#refusal);
    this.#assertEnforceable(request.spec.limits);
    // Independent round trips to the thread pool, made side by side.
    const [cgroup, environment] = await Promise.allSettled([
      this.#createCgroup(request),
      this.#writeEnvironment(request),
    ]);
    try {
      if (cgroup.status === 'rejected') throw cgroup.reason;
      if (environment.status === 'rejected') throw environment.reason;
      return await this.#spawnShim(request, cgroup.value, environment.value);
    } catch (error) {
      if (cgroup.status === 'fulfilled') await cgroup.value?.remove().catch(() => undefined);
      if (environment.status === 'fulfilled')
        await rm(environment.value, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** The job's environment, in the file jobshim reads (and removes) before it starts the job. */
  async #writeEnvironment(request: LaunchRequest): Promise<string> {
    const account = request.spec.sandbox === 'private' ? SANDBOX_ACCOUNT : this.#isolation.user;
    try {
      return await writeEnvironmentFile(request.dir, jobEnvironment(account, request.spec.env));
    } catch (error) {
      // A file written in part may hold some of the job's secrets.
      await rm(jobFile(request.dir, 'environment'), { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async reattach(jobId: string, dir: string): Promise<ReattachResult> {
    const cgroup = this.#cgroups?.open(jobId);
    if (!existsSync(jobFile(dir, 'events'))) {
      const status = readShimStatus(dir);
      await cgroup?.remove().catch(() => undefined);
      if (status !== undefined) return { kind: 'ended', outcome: outcomeFromStatus(status) };
      // The supervisor's log is opened just before it is spawned: without it, no supervisor was
      // ever spawned, and none can appear later to run the job a second time.
      if (!existsSync(jobFile(dir, 'supervisorLog'))) return { kind: 'never-launched' };
      return {
        kind: 'ended',
        outcome: outcomeWithoutExit('lost', 'the job supervisor never started'),
      };
    }
    // Settled now rather than through the handle, so a job that ended (or lost its supervisor)
    // while the server was down is never shown as running once the server answers.
    if (supervisorHasExited(dir))
      return { kind: 'ended', outcome: await collectOutcome(dir, cgroup) };
    const handle = await ShimJobHandle.attach(dir, new Date(), cgroup);
    return { kind: 'running', handle };
  }

  #assertEnforceable(limits: ResourceLimits): void {
    const enforceable = this.#cgroups?.enforceable ?? new Set<LimitKind>();
    for (const field of Object.keys(limits) as (keyof ResourceLimits)[]) {
      if (limits[field] === undefined) continue;
      if (!enforceable.has(LIMIT_FIELDS[field])) {
        throw new LimitNotEnforceableError(
          `limits.${field}`,
          this.#cgroups === undefined
            ? 'no writable cgroup hierarchy (is the server running as root?)'
            : `the ${LIMIT_FIELDS[field]} controller is not available`,
        );
      }
    }
  }

  async #createCgroup(request: LaunchRequest): Promise<JobCgroup | undefined> {
    if (this.#cgroups === undefined) return undefined;
    // A sandboxed job writes to memory (tmpfs); only a host job's cwd is a path on a disk.
    const devices = blockDevicesOf(
      request.spec.sandbox === 'host' ? ['/', request.spec.cwd] : ['/'],
    );
    try {
      return await this.#cgroups.create(request.jobId, request.spec.limits, devices, {
        name: groupNameOf(request.owner),
        totals: request.clientTotals,
      });
    } catch (error) {
      throw new LaunchFailedError('could not create the cgroup for the job', error);
    }
  }

  async #shimArguments(request: LaunchRequest, cgroup: JobCgroup | undefined): Promise<string[]> {
    const files = jobFiles(request.dir);
    const args = ['--dir', request.dir, '--events', files.events, '--control', files.control];
    for (const procs of cgroup?.procsFiles ?? []) args.push('--cgroup-procs', procs);
    if (cgroup?.directory !== undefined) args.push('--cgroup-dir', cgroup.directory);
    if (this.#isolation.pidNamespace) args.push('--pidns');
    if (this.#isolation.networkNamespace) args.push('--netns');
    // The filter needs no privilege (no_new_privs is set first), so every job gets it.
    args.push('--seccomp');
    const sandbox = this.#sandboxFor(request);
    if (sandbox !== undefined) {
      args.push(...(await sandboxArguments(sandbox, request.jobId, request.owner, request.spec)));
    } else if (this.#isolation.user !== undefined) {
      const user = this.#isolation.user;
      args.push('--uid', String(user.uid), '--gid', String(user.gid));
    }
    args.push('--cwd', request.spec.cwd);
    if (request.spec.stdin) args.push('--stdin', files.stdin);
    if (request.spec.stderr === 'merged') args.push('--merge-stderr');
    const { tty } = request.spec;
    if (tty !== undefined) {
      args.push('--tty', '--tty-rows', String(tty.rows), '--tty-cols', String(tty.cols));
    }
    if (request.spec.timeoutMs !== undefined)
      args.push('--timeout', String(request.spec.timeoutMs));
    if (request.maxOutputBytes !== undefined)
      args.push('--max-output', String(request.maxOutputBytes));
    if (request.minFreeDiskBytes > 0)
      args.push('--min-free-disk', String(request.minFreeDiskBytes));
    args.push('--', request.spec.command, ...request.spec.args);
    return args;
  }

  /** The sandbox settings if this job runs in a private sandbox. */
  #sandboxFor(request: LaunchRequest): SandboxSettings | undefined {
    if (request.spec.sandbox !== 'private') return undefined;
    if (this.#isolation.sandbox === undefined) {
      throw new LimitNotEnforceableError(
        'sandbox',
        'this host gives no private sandbox (it needs root and namespaces)',
      );
    }
    return this.#isolation.sandbox;
  }

  async #spawnShim(
    request: LaunchRequest,
    cgroup: JobCgroup | undefined,
    environmentFile: string,
  ): Promise<LaunchResult> {
    const shimArguments = await this.#shimArguments(request, cgroup);
    const log = jobFile(request.dir, 'supervisorLog');
    await (await open(log, 'a', 0o600)).close();
    // jobshim runs as root and is started with an empty environment: a client's LD_PRELOAD or
    // LD_LIBRARY_PATH must not reach its dynamic loader. The job's environment goes through the
    // file, to the job alone. jobshim removes the file once read, before it reports a start;
    // launch() removes it after any error, and it is removed here after a failure jobshim
    // reports, which may have come before it read the file.
    const reply = await this.#spawner.spawn(
      [this.#shimPath, '--env-file', environmentFile, ...shimArguments],
      log,
    );
    const report = startReportOf(reply);
    if (report.kind === 'failed') {
      await rm(environmentFile, { force: true });
      const status = readShimStatus(request.dir);
      await cgroup?.remove().catch(() => undefined);
      // The command's own fault, told as such: a request's start is refused with it (422), a
      // queued job ends failed with it as its error.
      const unrunnable = unrunnableCommand(report.message, request.spec);
      if (unrunnable !== undefined) throw unrunnable;
      const outcome =
        status === undefined
          ? outcomeWithoutExit('failed', report.message)
          : outcomeFromStatus(status);
      return { kind: 'failed', outcome };
    }
    const handle = await ShimJobHandle.attach(request.dir, report.startedAt, cgroup);
    return { kind: 'started', handle };
  }
}

function sandboxProtections(settings: SandboxSettings | undefined): Protections['sandbox'] {
  const range = settings?.accounts.range;
  return {
    privateRoot: settings !== undefined,
    uidPerClient: settings !== undefined,
    uidRange:
      range === undefined ? null : { first: range.first, last: range.first + range.count - 1 },
    seccomp: true,
    binds: settings === undefined ? [] : describeBinds(settings.binds),
  };
}

/** Why jobs cannot get the protection the configuration requires, if they cannot. */
function missingProtection(
  cgroups: CgroupDriver | undefined,
  isolation: IsolationSettings,
): string | undefined {
  if (cgroups === undefined)
    return 'isolation is required but no writable cgroup hierarchy was found';
  if (!isolation.pidNamespace) return 'isolation is required but namespaces are unavailable';
  return undefined;
}

/**
 * The error for a start that failed because of the command itself (jobshim reports `command not
 * found: NAME` or `cannot run NAME: why`), or undefined for any other failure, which is the
 * worker's. A missing command names the PATH the job's environment searched.
 */
function unrunnableCommand(message: string, spec: JobSpec): Error | undefined {
  // By prefix: the report is one line of at most 1 KiB, where a command may be longer.
  if (message.startsWith('command not found: ')) {
    return new CommandNotFoundError(spec.command, spec.env.PATH ?? DEFAULT_PATH);
  }
  if (message.startsWith('cannot run ')) return new CommandCannotRunError(message);
  return undefined;
}

type StartReport =
  | { readonly kind: 'started'; readonly startedAt: Date }
  | { readonly kind: 'failed'; readonly message: string };

/** The supervisor's one-line report on its stdout: `started <pid> <ms>` or `failed <why>`. */
function startReportOf(reply: SpawnReply): StartReport {
  if (reply.kind === 'not-spawned')
    throw new LaunchFailedError(`could not start the job supervisor: ${reply.reason}`);
  if (reply.kind === 'silent')
    throw new LaunchFailedError('the job supervisor exited before reporting a start');
  const [word, ...rest] = reply.line.split(' ');
  if (word === 'started' && rest.length >= 2) {
    return { kind: 'started', startedAt: new Date(Number(rest[1])) };
  }
  if (word === 'failed') return { kind: 'failed', message: rest.join(' ') };
  throw new LaunchFailedError(`the job supervisor reported '${reply.line.slice(0, 200)}'`);
}
