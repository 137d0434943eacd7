// The Store (store.ts) over the embedded SQLite database: JobStore's answers, which SQLite gives
// at once, handed back as promises. A failed write rejects with the error JobStore throws (a full
// disk as InsufficientStorageError), as a store over the network would reject.
import type { DatabaseSync } from 'node:sqlite';
import type { ClientBudget, Job, JobFilter, JobPage, PageRequest } from '../jobs/job.ts';
import type { JobStatus } from '../jobs/job-status.ts';
import { JobStore } from './job-store.ts';
import type { ClientLoad, JobUpdate, QueueHead, Store } from './store.ts';

export class SqliteStore implements Store {
  readonly #jobs: JobStore;

  /** The database stays its opener's to close, after this store's close(). */
  constructor(db: DatabaseSync) {
    this.#jobs = new JobStore(db);
  }

  insert(job: Job, budget?: ClientBudget): Promise<void> {
    return answer(() => this.#jobs.insert(job, budget));
  }

  update(id: string, changes: JobUpdate): Promise<void> {
    return answer(() => this.#jobs.update(id, changes));
  }

  transition(id: string, from: JobStatus, changes: JobUpdate): Promise<boolean> {
    return answer(() => this.#jobs.transition(id, from, changes));
  }

  get(id: string): Promise<Job | undefined> {
    return answer(() => this.#jobs.get(id));
  }

  list(filter: JobFilter, page: PageRequest): Promise<JobPage> {
    return answer(() => this.#jobs.list(filter, page));
  }

  atPositions(positions: readonly number[]): Promise<Job[]> {
    return answer(() => this.#jobs.atPositions(positions));
  }

  unfinished(): Promise<Job[]> {
    return answer(() => this.#jobs.unfinished());
  }

  queued(): Promise<Job[]> {
    return answer(() => this.#jobs.queued());
  }

  queueHeads(): Promise<QueueHead[]> {
    return answer(() => this.#jobs.queueHeads());
  }

  countQueued(owner?: string): Promise<number> {
    return answer(() => this.#jobs.countQueued(owner));
  }

  oldestQueuedAt(): Promise<Date | undefined> {
    return answer(() => this.#jobs.oldestQueuedAt());
  }

  wasQueued(id: string): Promise<boolean> {
    return answer(() => this.#jobs.wasQueued(id));
  }

  queuePosition(job: Pick<Job, 'id' | 'owner'>): Promise<number> {
    return answer(() => this.#jobs.queuePosition(job));
  }

  clientLoads(defaultBytes: number): Promise<Map<string, ClientLoad>> {
    return answer(() => this.#jobs.clientLoads(defaultBytes));
  }

  reservedMemory(defaultBytes: number): Promise<number> {
    return answer(() => this.#jobs.reservedMemory(defaultBytes));
  }

  outputBytesOf(owner: string): Promise<number> {
    return answer(() => this.#jobs.outputBytesOf(owner));
  }

  recordBytesOf(owner: string): Promise<number> {
    return answer(() => this.#jobs.recordBytesOf(owner));
  }

  countByStatus(): Promise<Map<JobStatus, number>> {
    return answer(() => this.#jobs.countByStatus());
  }

  endedBefore(isoTime: string, limit: number): Promise<string[]> {
    return answer(() => this.#jobs.endedBefore(isoTime, limit));
  }

  delete(id: string): Promise<void> {
    return answer(() => this.#jobs.delete(id));
  }

  deleteMany(ids: readonly string[]): Promise<void> {
    return answer(() => this.#jobs.deleteMany(ids));
  }

  sync(): Promise<void> {
    return this.#jobs.sync();
  }

  close(): Promise<void> {
    return this.#jobs.close();
  }
}

/** What `ask` returns, or the error it throws, as a settled promise. */
function answer<T>(ask: () => T): Promise<T> {
  return new Promise((resolve) => resolve(ask()));
}
