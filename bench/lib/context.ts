// What every scenario is given: the mode, the servers and fixtures it may need (started on first
// use, stopped by run.ts whatever happens), a scratch directory and a logger.
import type { ResourceUsage } from './process-stats.ts';
import type { Figure } from './report.ts';
import type { BenchServer } from './server.ts';
import type { SshFixture } from './ssh.ts';

export interface BenchContext {
  /** Small sizes and few repetitions: a smoke test of the harness, not a measurement. */
  readonly quick: boolean;
  /** The server as deployed: root, so jobs get cgroups, namespaces and their own user. */
  server(): Promise<BenchServer>;
  /** The same server run as an unprivileged user: no cgroups, namespaces or user switch. */
  unprivilegedServer(): Promise<BenchServer>;
  /**
   * A new root server with nothing behind it, with `env` over the bench's settings and its data
   * directory filled by `prepare` first; the caller disposes it (run.ts does if it cannot).
   */
  freshServer(
    env?: Record<string, string>,
    prepare?: (dataDir: string) => void,
  ): Promise<BenchServer>;
  ssh(): Promise<SshFixture>;
  /** A directory that lives as long as the bench run. */
  readonly scratch: string;
  log(message: string): void;
}

export interface ScenarioResult {
  readonly figures: Figure[];
  readonly details: Record<string, unknown>;
  /** The usage of the server the scenario measured, when that is not the shared one. */
  readonly server?: ResourceUsage;
}

export interface Scenario {
  /** What `--only` selects, and the key in the JSON. */
  readonly name: string;
  readonly title: string;
  /** False for scenarios that never talk to the server (its usage is then not reported). */
  readonly usesServer?: boolean;
  run(context: BenchContext): Promise<ScenarioResult>;
}

/** Picks between a full-run and a quick-run value. */
export function sized<T>(context: BenchContext, full: T, quick: T): T {
  return context.quick ? quick : full;
}
