// Launches each job under its own supervisor process (native/jobshim.c), which places the job in
// its cgroup before it runs, gives it its namespaces and user, records its output and exit status
// on disk, and keeps doing so if the server dies. Node cannot set clone flags or exec in place,
// hence the small C program rather than `child_process` alone. A launch is a list of steps
// (steps/): each checks the job, sets up its part and says what the supervisor is told; this
// module runs them in order, spawns the supervisor and undoes the steps if the launch fails.
import { closeSync, existsSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import {
  CommandCannotRunError,
  CommandNotFoundError,
  LaunchFailedError,
  LimitNotEnforceableError,
} from '../errors.ts';
import { jobFile, jobFiles } from '../jobs/job-directory.ts';
import type { JobSpec } from '../jobs/job.ts';
import type { JobCgroup } from './cgroups/cgroup.ts';
import { DEFAULT_PATH, jobEnvironment } from './environment.ts';
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
import { readShimStatus, writeEnvironmentFile } from './shim-files.ts';
import type { CgroupStep } from './steps/cgroup-step.ts';
import type { LaunchStep, StepSetup } from './steps/launch-step.ts';
import type { NamespacesStep } from './steps/namespaces-step.ts';
import type { NetworkStep } from './steps/network-step.ts';
import { OutputStep } from './steps/output-step.ts';
import { ProcessStep } from './steps/process-step.ts';
import type { SandboxStep } from './steps/sandbox-step.ts';
import { VolumesStep } from './steps/volumes-step.ts';
import { SupervisorSpawner, type SpawnReply } from './supervisor-spawner.ts';
import { SHIM_PATH } from './built-programs.ts';

/**
 * The steps that depend on the host, which the server configures. The launcher adds those every
 * job takes from its spec alone (its process, its output's limits).
 */
export interface HostSteps {
  readonly cgroup: CgroupStep;
  readonly namespaces: NamespacesStep;
  readonly network: NetworkStep;
  readonly sandbox: SandboxStep;
  /** The client's volumes; without it, a job that names one is refused. */
  readonly volumes?: VolumesStep;
}

export interface ShimLauncherOptions {
  /** Refuse to start jobs rather than run them with less protection than configured. */
  readonly required: boolean;
  readonly shimPath?: string;
}

export class ShimLauncher implements Launcher {
  readonly protections: Protections;
  /** First, apart: the job's handle keeps its cgroup once the job runs. */
  readonly #cgroup: CgroupStep;
  readonly #sandbox: SandboxStep;
  readonly #network: NetworkStep;
  /** The other steps, in the order their arguments reach the supervisor. */
  readonly #steps: readonly LaunchStep[];
  readonly #shimPath: string;
  readonly #spawner: SupervisorSpawner;
  readonly #refusal: string | undefined;

  constructor(steps: HostSteps, options: ShimLauncherOptions) {
    const shimPath = options.shimPath ?? SHIM_PATH;
    if (!existsSync(shimPath)) {
      throw new Error(`job supervisor ${shimPath} is missing: run 'npm install' to build it`);
    }
    this.#cgroup = steps.cgroup;
    this.#sandbox = steps.sandbox;
    this.#network = steps.network;
    this.#steps = [
      steps.namespaces,
      steps.network,
      steps.sandbox,
      steps.volumes ?? new VolumesStep(undefined),
      new ProcessStep(),
      new OutputStep(),
    ];
    this.#shimPath = shimPath;
    this.#spawner = new SupervisorSpawner();
    this.protections = {
      ...steps.cgroup.protections,
      ...steps.namespaces.protections,
      ...steps.network.protections,
      ...steps.sandbox.protections,
    };
    this.#refusal = options.required
      ? [this.#cgroup, ...this.#steps]
          .map((step) => step.missingWhenRequired())
          .find((missing) => missing !== undefined)
      : undefined;
  }

  /** Supervisors already started run on; later launches fail. */
  async close(): Promise<void> {
    await this.#spawner.close();
    await this.#network.close();
  }

  async launch(request: LaunchRequest): Promise<LaunchResult> {
    if (this.#refusal !== undefined) throw new LimitNotEnforceableError('isolation', this.#refusal);
    for (const step of [this.#cgroup, ...this.#steps]) step.check(request);
    // Independent round trips to the thread pool, made side by side; a failure is told in this
    // order (the cgroup's first), whichever came first.
    const [cgroup, environment, ...others] = await Promise.allSettled([
      this.#cgroup.prepare(request),
      this.#writeEnvironment(request),
      ...this.#steps.map((step) => step.prepare(request)),
    ]);
    const setups = [cgroup, ...others].flatMap((setup) =>
      setup.status === 'fulfilled' ? [setup.value] : [],
    );
    try {
      const { cgroup: jobCgroup } = valueOf(cgroup);
      const environmentFile = valueOf(environment);
      const args = [valueOf(cgroup), ...others.map(valueOf)].flatMap((setup) => setup.args);
      return await this.#spawnShim(request, args, environmentFile, jobCgroup, setups);
    } catch (error) {
      await undoSteps(setups);
      if (environment.status === 'fulfilled')
        await rm(environment.value, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** The job's environment, in the file jobshim reads (and removes) before it starts the job. */
  async #writeEnvironment(request: LaunchRequest): Promise<string> {
    const account = this.#sandbox.accountOf(request);
    try {
      return writeEnvironmentFile(request.dir, jobEnvironment(account, request.spec.env));
    } catch (error) {
      // A file written in part may hold some of the job's secrets.
      await rm(jobFile(request.dir, 'environment'), { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async reattach(jobId: string, dir: string): Promise<ReattachResult> {
    const cgroup = this.#cgroup.reopen(jobId);
    const release = this.#network.reopen(jobId, dir);
    if (!existsSync(jobFile(dir, 'events'))) {
      const status = readShimStatus(dir);
      await cgroup?.remove().catch(() => undefined);
      await release?.().catch(() => undefined);
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
      return { kind: 'ended', outcome: await collectOutcome(dir, cgroup, release) };
    const handle = await ShimJobHandle.attach(dir, new Date(), cgroup, release);
    return { kind: 'running', handle };
  }

  /**
   * Spawns the supervisor with the steps' arguments between its files and the command. A start
   * the supervisor reports as failed undoes the steps here, since it returns rather than throws.
   */
  async #spawnShim(
    request: LaunchRequest,
    stepArguments: readonly string[],
    environmentFile: string,
    cgroup: JobCgroup | undefined,
    setups: readonly StepSetup[],
  ): Promise<LaunchResult> {
    const files = jobFiles(request.dir);
    const shimArguments = [
      ...['--dir', request.dir, '--events', files.events, '--control', files.control],
      ...stepArguments,
      ...['--', request.spec.command, ...request.spec.args],
    ];
    // At once: an empty file in the job's new directory never waits on a disk, where the
    // thread pool's open and close were two round trips in a row on every start (issue #38).
    closeSync(openSync(files.supervisorLog, 'a', 0o600));
    // jobshim runs as root and is started with an empty environment: a client's LD_PRELOAD or
    // LD_LIBRARY_PATH must not reach its dynamic loader. The job's environment goes through the
    // file, to the job alone. jobshim removes the file once read, before it reports a start;
    // launch() removes it after any error, and it is removed here after a failure jobshim
    // reports, which may have come before it read the file.
    const reply = await this.#spawner.spawn(
      [this.#shimPath, '--env-file', environmentFile, ...shimArguments],
      files.supervisorLog,
    );
    const report = startReportOf(reply);
    if (report.kind === 'failed') {
      await rm(environmentFile, { force: true });
      const status = readShimStatus(request.dir);
      await undoSteps(setups);
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
    const handle = await ShimJobHandle.attach(
      request.dir,
      report.startedAt,
      cgroup,
      releaseAll(setups),
    );
    return { kind: 'started', handle };
  }
}

/** Undoes what the steps set up, last first; an undo that fails leaves the others to run. */
async function undoSteps(setups: readonly StepSetup[]): Promise<void> {
  for (const setup of [...setups].reverse()) await setup.undo().catch(() => undefined);
}

/** Releases, once the job has ended, what the steps hold while it runs. */
function releaseAll(setups: readonly StepSetup[]): () => Promise<void> {
  return async () => {
    for (const setup of setups) await setup.release?.().catch(() => undefined);
  };
}

/** What a step set up, or the error it failed with, thrown. */
function valueOf<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
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
