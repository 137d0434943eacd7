// The network step: the network a job's spec asks for, `none`, `egress` or `host`. `none` is its
// own network namespace with only loopback, made by the supervisor as it clones the job. `host`
// is the host's own network, for roles the operator allows (the policy has checked that). `egress`
// is its own namespace too, with a veth pair out through the host, filtered by the server's
// nftables table (network/egress-network.ts); what it holds is given back once the job has ended.
import { LimitNotEnforceableError } from '../../errors.ts';
import type { NetworkMode } from '../../jobs/job.ts';
import type { Protections } from '../../jobs/protections.ts';
import type { LaunchRequest } from '../launcher.ts';
import type { EgressNetwork } from '../network/egress-network.ts';
import type { LaunchStep, StepSetup } from './launch-step.ts';
import { argumentsOnly } from './launch-step.ts';

export interface NetworkStepSettings {
  /** Jobs can have network namespaces of their own (the server is root). */
  readonly namespaces: boolean;
  /** Egress on this host; undefined where the server offers none. */
  readonly egress: EgressNetwork | undefined;
}

export class NetworkStep implements LaunchStep {
  readonly protections: Pick<Protections, 'networkNamespace' | 'egress'>;
  readonly #settings: NetworkStepSettings;

  constructor(settings: NetworkStepSettings) {
    this.#settings = settings;
    // Egress is ready or not once the server has set it up, before this step is made.
    this.protections = {
      networkNamespace: settings.namespaces,
      egress: this.#egressUnavailable() === undefined,
    };
  }

  check(request: LaunchRequest): void {
    if (modeOf(request) !== 'egress') return;
    const why = this.#egressUnavailable();
    if (why !== undefined) throw new LimitNotEnforceableError('network', why);
  }

  async prepare(request: LaunchRequest): Promise<StepSetup> {
    const mode = modeOf(request);
    const { egress, namespaces } = this.#settings;
    if (mode === 'host' || !namespaces) return argumentsOnly([]);
    if (mode === 'none' || egress === undefined) return argumentsOnly(['--netns']);
    const args = await egress.prepare(request.jobId, request.dir);
    const release = (): Promise<void> => egress.release(request.jobId, request.dir);
    return { args: ['--netns', ...args], undo: release, release };
  }

  /** What a job launched before a restart of the server holds until it ends; none but egress. */
  reopen(jobId: string, dir: string): (() => Promise<void>) | undefined {
    const { egress } = this.#settings;
    return egress === undefined ? undefined : () => egress.release(jobId, dir);
  }

  /** At the server's stop: its egress table goes unless a job of its own still uses it. */
  async close(): Promise<void> {
    await this.#settings.egress?.close();
  }

  missingWhenRequired(): undefined {
    // Namespaces come with root, which the namespaces step requires; egress is asked for per job.
    return undefined;
  }

  #egressUnavailable(): string | undefined {
    if (!this.#settings.namespaces)
      return 'egress needs network namespaces (the server runs as root)';
    if (this.#settings.egress === undefined) return 'this server offers no egress';
    const why = this.#settings.egress.unavailable;
    return why === undefined ? undefined : `egress is unavailable: ${why}`;
  }
}

/** A job recorded before jobs had a network mode ran in its own namespace: `none`. */
function modeOf(request: LaunchRequest): NetworkMode {
  return request.spec.network ?? 'none';
}
