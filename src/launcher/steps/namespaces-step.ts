// The namespaces step: the job's own PID and mount namespaces (and its own /proc). They need
// root; the supervisor makes them when it clones the job. The job's network is the network step's.
import type { Protections } from '../../jobs/protections.ts';
import type { LaunchStep, StepSetup } from './launch-step.ts';
import { argumentsOnly } from './launch-step.ts';

export interface NamespaceSettings {
  /** Own PID and mount namespaces (and /proc) per job. */
  readonly pid: boolean;
}

export class NamespacesStep implements LaunchStep {
  readonly protections: Pick<Protections, 'pidNamespace' | 'mountNamespace'>;
  readonly #args: readonly string[];
  readonly #settings: NamespaceSettings;

  constructor(settings: NamespaceSettings) {
    this.#settings = settings;
    this.protections = { pidNamespace: settings.pid, mountNamespace: settings.pid };
    this.#args = settings.pid ? ['--pidns'] : [];
  }

  check(): void {
    // Every job gets the same namespaces: there is nothing a job could ask for here.
  }

  prepare(): Promise<StepSetup> {
    return Promise.resolve(argumentsOnly(this.#args));
  }

  missingWhenRequired(): string | undefined {
    return this.#settings.pid ? undefined : 'isolation is required but namespaces are unavailable';
  }
}
