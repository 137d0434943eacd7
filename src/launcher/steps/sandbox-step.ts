// The sandbox step: what a job's process may see and be. Every job gets the system-call filter
// (it needs no privilege); a job asking for the private sandbox gets its own root, built from
// the host's read-only binds or an image, and its client's own uid; any other job runs as the
// configured job user on the host's filesystem. It also names the account the job's environment
// describes (USER, HOME).
import { LimitNotEnforceableError } from '../../errors.ts';
import type { Protections } from '../../jobs/protections.ts';
import { SANDBOX_ACCOUNT, type JobAccount } from '../environment.ts';
import type { JobUser } from '../job-user.ts';
import type { LaunchRequest } from '../launcher.ts';
import { describeBinds, sandboxArguments, type SandboxSettings } from '../sandbox.ts';
import type { LaunchStep, StepSetup } from './launch-step.ts';
import { argumentsOnly } from './launch-step.ts';

export interface SandboxStepSettings {
  /** The account jobs on the host's filesystem run as; undefined: the server's own user. */
  readonly user: JobUser | undefined;
  /** The private sandbox (needs root and the PID namespace); undefined where there is none. */
  readonly sandbox: SandboxSettings | undefined;
}

export class SandboxStep implements LaunchStep {
  readonly protections: Pick<Protections, 'jobUser' | 'sandbox'>;
  readonly #settings: SandboxStepSettings;

  constructor(settings: SandboxStepSettings) {
    this.#settings = settings;
    this.protections = {
      jobUser: settings.user?.name ?? `uid ${process.getuid?.() ?? 'unknown'}`,
      sandbox: sandboxProtections(settings.sandbox),
    };
  }

  check(request: LaunchRequest): void {
    if (request.spec.sandbox === 'private' && this.#settings.sandbox === undefined) {
      throw new LimitNotEnforceableError(
        'sandbox',
        'this host gives no private sandbox (it needs root and namespaces)',
      );
    }
  }

  async prepare(request: LaunchRequest): Promise<StepSetup> {
    // The filter needs no privilege (no_new_privs is set first), so every job gets it.
    const args = ['--seccomp'];
    const { sandbox, user } = this.#settings;
    if (request.spec.sandbox === 'private' && sandbox !== undefined) {
      args.push(...(await sandboxArguments(sandbox, request.jobId, request.owner, request.spec)));
    } else if (user !== undefined) {
      args.push('--uid', String(user.uid), '--gid', String(user.gid));
    }
    return argumentsOnly(args);
  }

  /** The account the job's environment names; undefined: the server's own. */
  accountOf(request: LaunchRequest): JobAccount | undefined {
    return request.spec.sandbox === 'private' ? SANDBOX_ACCOUNT : this.#settings.user;
  }

  missingWhenRequired(): undefined {
    // The private sandbox is asked for per job, and refused by `check` where there is none.
    return undefined;
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
