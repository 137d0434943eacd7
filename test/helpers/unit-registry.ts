// A real JobRegistry over a real SQLite store in a temporary directory, launching through the
// stand-in launcher: the registry's unit tests drive it without root, jobshim or a server.
// `restart` closes it as a server stopping with `leave-running` does and opens another over the
// same database, data directory and stand-in (the host, whose jobs ran on).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openDatabase } from '../../src/store/database.ts';
import { JobStore } from '../../src/store/job-store.ts';
import type { ShutdownPolicy } from '../../src/jobs/job.ts';
import type { JobStatus } from '../../src/jobs/job-status.ts';
import {
  JobRegistry,
  type DequeueEvent,
  type RegistryOptions,
  type Transition,
  type Viewer,
} from '../../src/worker/registry.ts';
import { jobSpec } from './launch-request.ts';
import { StandInLauncher } from './stand-in-launcher.ts';

/** What a test may set of the registry's options; the store, launcher and paths are the helper's. */
export type UnitRegistryOptions = Partial<
  Omit<RegistryOptions, 'store' | 'launcher' | 'dataDir' | 'logger'>
>;

export interface UnitRegistry {
  readonly registry: JobRegistry;
  readonly launcher: StandInLauncher;
  readonly store: JobStore;
  readonly dataDir: string;
  /** Jobs that left the queue, as the audit trail is told. */
  readonly dequeued: DequeueEvent[];
  /** Resolves once the job has reached `status` under this registry (at once if it is there). */
  reached(id: string, status: JobStatus): Promise<void>;
  /** Closes this registry (`leave-running`) and recovers a new one over the same store. */
  restart(options?: UnitRegistryOptions): Promise<UnitRegistry>;
  /**
   * Opens a new registry over the same store as a server killed by SIGKILL leaves it: this one is
   * not closed (what it had under way never finishes), only its database.
   */
  crash(options?: UnitRegistryOptions): Promise<UnitRegistry>;
  /** Closes the registry and its database, and deletes the data directory. */
  dispose(policy?: ShutdownPolicy): Promise<void>;
}

export async function startUnitRegistry(options: UnitRegistryOptions = {}): Promise<UnitRegistry> {
  const dataDir = await mkdtemp(join(tmpdir(), 'jobworker-registry-'));
  return open(dataDir, new StandInLauncher(), options);
}

async function open(
  dataDir: string,
  launcher: StandInLauncher,
  options: UnitRegistryOptions,
): Promise<UnitRegistry> {
  const db = openDatabase(join(dataDir, 'jobworker.db'));
  const store = new JobStore(db);
  const dequeued: DequeueEvent[] = [];
  const watchers = new Set<(transition: Transition) => void>();
  const registry = new JobRegistry({
    stopGraceMs: 1000,
    maxOutputBytes: 0,
    retentionMs: 0,
    onDequeue: (event) => dequeued.push(event),
    onTransition: (transition) => {
      for (const watcher of [...watchers]) watcher(transition);
    },
    ...options,
    store,
    launcher,
    dataDir,
    logger: pino({ level: 'silent' }),
  });
  await registry.recover();
  const close = async (policy: ShutdownPolicy): Promise<void> => {
    await registry.close(policy);
    await store.close();
    db.close();
  };
  return {
    registry,
    launcher,
    store,
    dataDir,
    dequeued,
    reached: (id, status) =>
      new Promise((resolve) => {
        if (store.get(id)?.status === status) return resolve();
        const watcher = (transition: Transition): void => {
          if (transition.job.id !== id || transition.to !== status) return;
          watchers.delete(watcher);
          resolve();
        };
        watchers.add(watcher);
      }),
    restart: async (next = options) => {
      await close('leave-running');
      return open(dataDir, launcher, next);
    },
    crash: async (next = options) => {
      await store.close();
      db.close();
      return open(dataDir, launcher, next);
    },
    dispose: async (policy = 'stop') => {
      await close(policy);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A client that sees its own jobs only. */
export function client(name: string): Viewer {
  return { name, seesAll: false };
}

/** A job spec with the defaults a request gets, and what the test changes. */
export const spec = jobSpec;
