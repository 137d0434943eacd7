// The job store as the worker sees it: every question the registry, the API's listings,
// retention and recovery ask of the jobs' records, as promises. The SQLite store (sqlite-store.ts)
// answers at once; a store over the network (PostgreSQL, for a fleet of hosts) cannot, so nothing
// here may lean on an answer being synchronous, on a transaction the caller holds, or on SQL: the
// queue is read and claimed through operations (queueHeads, transition), not statements.
// test/store/store-contract.ts is what any store must pass.
import type { ClientBudget, Job, JobFilter, JobPage, PageRequest } from '../jobs/job.ts';
import type { JobStatus } from '../jobs/job-status.ts';

/** The fields of a job that change after it is created. */
export type JobUpdate = Partial<
  Pick<
    Job,
    | 'status'
    | 'exitCode'
    | 'signal'
    | 'error'
    | 'oomKilled'
    | 'usage'
    | 'outputBytes'
    | 'outputTruncated'
    | 'outputCapBytes'
    | 'startedAt'
    | 'stopRequestedAt'
    | 'endedAt'
  >
>;

/** What one client runs and waits for: a row of admission's snapshot (worker/admission.ts). */
export interface ClientLoad {
  readonly running: number;
  readonly reservedBytes: number;
  readonly memoryTotalBytes: number | undefined;
  readonly queued: number;
  readonly keptOutputBytes: number;
  readonly heldOutputBytes: number;
}

/** A client's oldest queued job, with the budget its client had when it was queued. */
export interface QueueHead {
  readonly job: Job;
  readonly budget: ClientBudget;
}

export interface Store {
  /**
   * Records a new job and its labels together; its client's `budget` (totals and output) is kept
   * for a queued start. Before the job is promised to anyone, `sync()` makes it durable.
   */
  insert(job: Job, budget?: ClientBudget): Promise<void>;
  /** Changes the fields of a job that change after it is created; an unknown id changes nothing. */
  update(id: string, changes: JobUpdate): Promise<void>;
  /**
   * Changes a job only while it is in status `from` (and sets its status to `changes.status`):
   * whether it did. One step, so two takers (two hosts of a fleet) cannot both claim a queued job.
   */
  transition(id: string, from: JobStatus, changes: JobUpdate): Promise<boolean>;
  get(id: string): Promise<Job | undefined>;
  /**
   * One page of the jobs `filter` selects, newest first, as positions; `next` is where the next
   * page starts when there may be one. Every job that exists throughout a paging is listed once.
   */
  list(filter: JobFilter, page: PageRequest): Promise<JobPage>;
  /** The jobs at these positions of a page, newest first; a job deleted since is left out. */
  atPositions(positions: readonly number[]): Promise<Job[]>;
  /** Jobs that hold a slot (launched, or being launched, and not ended), oldest first. */
  unfinished(): Promise<Job[]>;
  /** Every queued job, oldest first. */
  queued(): Promise<Job[]>;
  /** The oldest queued job of each client that has one, oldest first. */
  queueHeads(): Promise<QueueHead[]>;
  /** Queued jobs of one owner, or of all owners. */
  countQueued(owner?: string): Promise<number>;
  /** When the job at the head of the queue was queued; undefined while none is. */
  oldestQueuedAt(): Promise<Date | undefined>;
  /** Whether the job waited in the queue (a job started at once never did). */
  wasQueued(id: string): Promise<boolean>;
  /** How many of its client's queued jobs start before this one, plus one. */
  queuePosition(job: Pick<Job, 'id' | 'owner'>): Promise<number>;
  /**
   * What each client with jobs running or queued holds and wants: admission's snapshot. A running
   * job reserves its memory limit, or `defaultBytes` where it has none.
   */
  clientLoads(defaultBytes: number): Promise<Map<string, ClientLoad>>;
  /** Memory the jobs that hold a slot reserve, each client's at most its memory total. */
  reservedMemory(defaultBytes: number): Promise<number>;
  /** Output recorded for an owner's jobs, their logs and indexes; a running job's once it ended. */
  outputBytesOf(owner: string): Promise<number>;
  /** What the records of an owner's jobs hold: recordCostOf (job-rows.ts) of each, summed. */
  recordBytesOf(owner: string): Promise<number>;
  countByStatus(): Promise<Map<JobStatus, number>>;
  /** Ids of up to `limit` jobs that ended before `isoTime`: retention's next batch. */
  endedBefore(isoTime: string, limit: number): Promise<string[]>;
  /** Before a client is told its job is gone, `sync()` makes the deletion durable. */
  delete(id: string): Promise<void>;
  /** Deletes many jobs at once; retention's batches, which need no sync. */
  deleteMany(ids: readonly string[]): Promise<void>;
  /** Resolves once every change made so far survives a power loss. */
  sync(): Promise<void>;
  close(): Promise<void>;
}
