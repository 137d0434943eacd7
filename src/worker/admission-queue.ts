// Admission and the durable queue: whether a request's job starts now, waits or is refused, and
// which queued job's turn has come. The rules are admission.ts's and the order queue-order.ts's;
// this module takes the snapshot they judge from the store. The registry asks through the
// AdmissionQueue interface, so that a fleet of hosts can answer the same questions with claims
// in SQL; the answers here come from one host's store, each in one synchronous step, so nothing
// can run between a check and what the registry does with its answer.
import { LimitExceedsCapacityError, OutputBudgetSpentError, QueueFullError } from '../errors.ts';
import type { JobStore } from '../store/job-store.ts';
import type { ClientBudget, Job, QueueReason, ResourceLimits } from '../jobs/job.ts';
import type { Capacity } from '../jobs/protections.ts';
import {
  admit,
  IDLE_CLIENT,
  readableBytes,
  type Admission,
  type BudgetSpent,
  type Candidate,
  type Snapshot,
} from './admission.ts';
import { nextToStart } from './queue-order.ts';

/** Admission's answer for a queued job whose turn has come: it starts, or it fails. */
export type Turn =
  Extract<Admission, { start: true }> | Extract<Admission, { budgetSpent: BudgetSpent }>;

/** A queued job whose turn has come, with its client's totals and admission's answer. */
export interface QueueTurn {
  readonly job: Job;
  readonly clientTotals: ResourceLimits;
  readonly admission: Turn;
}

/** Where a queued job is in its client's queue, and why it waits. */
export interface QueuePlace {
  readonly queuePosition: number;
  readonly queueReason: QueueReason;
}

export interface AdmissionQueue {
  /** What the host gives jobs and how much of it running jobs reserve. */
  capacity(): Capacity;
  /**
   * Whether a request's job starts now. Throws LimitExceedsCapacityError for a job the host
   * could never run; `waits` is false for a client that asked not to wait (it then does not
   * wait behind its own queued jobs either).
   */
  admitRequest(
    owner: string,
    limits: ResourceLimits,
    budget: ClientBudget,
    waits: boolean,
  ): Admission;
  /** Throws QueueFullError when the client has its most jobs queued. */
  assertRoomFor(owner: string): void;
  /** The most output one job may keep; null for no cap. */
  perJobOutputCap(): number | null;
  /** The queued job whose turn it is, if admission lets one start (or refuses one) now. */
  nextTurn(): QueueTurn | undefined;
  /** A job of this client has just left the queue: the next turn goes to another client. */
  served(owner: string): void;
  /** A queued job whose files are being written: its turn (and its client's) waits until done. */
  holdBack(id: string): void;
  release(id: string): void;
  isHeldBack(id: string): boolean;
  /**
   * Where each queued job shown is and why it waits. The snapshot is taken once, at the first
   * queued job asked about, for all the jobs shown together.
   */
  placesOfQueued(): (job: Job) => QueuePlace;
}

export interface StoreAdmissionQueueOptions {
  readonly maxOutputBytes: number;
  readonly maxUnfinishedPerOwner?: number;
  readonly maxQueuedPerOwner?: number;
  readonly capacityBytes?: number;
  readonly defaultReservationBytes?: number;
}

/** Admission and the queue over one host's store. */
export class StoreAdmissionQueue implements AdmissionQueue {
  readonly #store: JobStore;
  readonly #options: StoreAdmissionQueueOptions;
  /** Queued jobs whose files are still being written: the drain passes them over. */
  readonly #enqueuing = new Set<string>();
  #servedLast: string | undefined;

  constructor(store: JobStore, options: StoreAdmissionQueueOptions) {
    this.#store = store;
    this.#options = options;
  }

  capacity(): Capacity {
    return {
      memoryBytes: this.#options.capacityBytes ?? null,
      reservedMemoryBytes: this.#store.reservedMemory(this.#options.defaultReservationBytes ?? 0),
      queued: this.#store.countQueued(),
    };
  }

  admitRequest(
    owner: string,
    limits: ResourceLimits,
    budget: ClientBudget,
    waits: boolean,
  ): Admission {
    const reservation = this.#reservationOf(limits);
    const capacity = this.#options.capacityBytes ?? Infinity;
    if (reservation > capacity) {
      throw new LimitExceedsCapacityError(mebibytes(reservation), mebibytes(capacity));
    }
    const queuedAhead = waits ? this.#store.countQueued(owner) : 0;
    return admit(
      this.#candidateOf(owner, limits, budget, queuedAhead),
      this.#snapshot(this.#store.queueHeads(), owner),
    );
  }

  assertRoomFor(owner: string): void {
    const most = this.#options.maxQueuedPerOwner ?? Infinity;
    if (this.#store.countQueued(owner) >= most) throw new QueueFullError(owner, most);
  }

  perJobOutputCap(): number | null {
    return this.#options.maxOutputBytes > 0 ? this.#options.maxOutputBytes : null;
  }

  nextTurn(): QueueTurn | undefined {
    const heads = this.#store.queueHeads();
    const snapshot = this.#snapshot(heads);
    const turns = heads
      .filter(({ job }) => !this.#enqueuing.has(job.id))
      .map(({ job, budget }) => ({
        job,
        owner: job.owner,
        clientTotals: budget.totals,
        admission: admit(this.#candidateOf(job.owner, job.limits, budget, 0), snapshot),
      }));
    const next = nextToStart(turns, this.#servedLast, ({ admission }) => hasTurn(admission));
    if (next === undefined || !hasTurn(next.admission)) return undefined;
    return { job: next.job, clientTotals: next.clientTotals, admission: next.admission };
  }

  served(owner: string): void {
    this.#servedLast = owner;
  }

  holdBack(id: string): void {
    this.#enqueuing.add(id);
  }

  release(id: string): void {
    this.#enqueuing.delete(id);
  }

  isHeldBack(id: string): boolean {
    return this.#enqueuing.has(id);
  }

  placesOfQueued(): (job: Job) => QueuePlace {
    let taken: Snapshot | undefined;
    return (job) => {
      const queuePosition = this.#store.queuePosition(job);
      taken ??= this.#snapshot();
      return { queuePosition, queueReason: this.#queueReasonOf(job, queuePosition, taken) };
    };
  }

  /**
   * What runs and waits now, as admission sees it: read from the store in a few queries, so it
   * is taken at every start and every turn of the queue. `asking`, a client whose request may
   * be its only job, is there too: the output its ended jobs keep counts.
   */
  #snapshot(heads = this.#store.queueHeads(), asking?: string): Snapshot {
    const clients = this.#store.clientLoads(this.#options.defaultReservationBytes ?? 0);
    if (asking !== undefined && !clients.has(asking)) {
      clients.set(asking, { ...IDLE_CLIENT, keptOutputBytes: this.#store.outputBytesOf(asking) });
    }
    return {
      hostMemoryBytes: this.#options.capacityBytes,
      runningCap: this.#options.maxUnfinishedPerOwner ?? Infinity,
      maxOutputBytes: this.perJobOutputCap(),
      clients,
      queueHeads: heads.map(({ job, budget }) =>
        this.#candidateOf(job.owner, job.limits, budget, 0),
      ),
    };
  }

  #candidateOf(
    owner: string,
    limits: ResourceLimits,
    budget: ClientBudget,
    queuedAhead: number,
  ): Candidate {
    return {
      owner,
      reservationBytes: this.#reservationOf(limits),
      clientMemoryBytes: budget.totals.memoryBytes,
      outputBudgetBytes: budget.outputBytes,
      queuedAhead,
    };
  }

  /**
   * Why a queued job has not started, asked when it is shown. Its client's budget is the one its
   * oldest queued job was accepted with.
   */
  #queueReasonOf(job: Job, queuePosition: number, snapshot: Snapshot): QueueReason {
    const head = snapshot.queueHeads.find((candidate) => candidate.owner === job.owner);
    const admission = admit(
      {
        owner: job.owner,
        reservationBytes: this.#reservationOf(job.limits),
        clientMemoryBytes: head?.clientMemoryBytes,
        outputBudgetBytes: head?.outputBudgetBytes,
        queuedAhead: queuePosition - 1,
      },
      snapshot,
    );
    if (admission.start) {
      return { code: 'next', message: 'nothing holds it back: it starts as the queue moves' };
    }
    if ('budgetSpent' in admission) {
      const why = budgetSpentError(job.owner, admission.budgetSpent).message;
      return { code: 'output-budget', message: `${why}; it fails when its turn comes` };
    }
    return admission.reason;
  }

  #reservationOf(limits: ResourceLimits): number {
    return limits.memoryBytes ?? this.#options.defaultReservationBytes ?? 0;
  }
}

function hasTurn(admission: Admission): admission is Turn {
  return admission.start || 'budgetSpent' in admission;
}

function mebibytes(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}

export function budgetSpentError(owner: string, spent: BudgetSpent): OutputBudgetSpentError {
  return new OutputBudgetSpentError(
    owner,
    readableBytes(spent.budgetBytes),
    readableBytes(spent.keptBytes),
  );
}
