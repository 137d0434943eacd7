// Admission: whether a job may start now and, if not, why. One policy for both ways a job comes
// to start, a request and its turn in the queue; pure and synchronous over a snapshot of what
// runs and what waits, so it is tested without a server and another snapshot (a fleet's, read
// with SQL) can be judged by the same rules. The registry takes the snapshot, asks, and acts.
// The rules, in the order they are asked (docs/design.md, "Admission", says why each):
//  1. its client's ended jobs keep its whole output budget: refused, until output is deleted;
//  2. its client's earlier queued jobs start first;
//  3. its client runs its most jobs;
//  4. its client's running jobs and this one would reserve more than the client's memory total;
//  5. its client's running jobs hold the rest of its output budget at their caps;
//  6. another client's job waits, and this client already reserves its fair share of the host;
//  7. the host has not the memory it reserves.
// Running jobs are never stopped for any of these: admission only decides what starts.
import type { QueueReason, QueueReasonCode } from '../jobs/job.ts';
import type { ClientLoad } from '../store/job-store.ts';

export type { ClientLoad } from '../store/job-store.ts';

/** What runs and waits, as admission sees it. */
export interface Snapshot {
  /** Memory all running jobs together may reserve; undefined: no reservations are made. */
  readonly hostMemoryBytes: number | undefined;
  /** Jobs one client may run at once. */
  readonly runningCap: number;
  /** Output one job may keep; null for no per-job cap. */
  readonly maxOutputBytes: number | null;
  /**
   * Every client with jobs running or queued, and the client of a request being admitted; a
   * client not here has none of either and keeps no output.
   */
  readonly clients: ReadonlyMap<string, ClientLoad>;
  /** The oldest queued job of each client that has one. */
  readonly queueHeads: readonly Candidate[];
}

/** A job asking to start: a request's, or a queued one. */
export interface Candidate {
  readonly owner: string;
  /** The memory it reserves: its limit, or the default one. */
  readonly reservationBytes: number;
  /** Its client's memory total (the limit on the client's cgroup); undefined for none. */
  readonly clientMemoryBytes: number | undefined;
  /** The output all of its client's jobs may keep together; undefined for no budget. */
  readonly outputBudgetBytes: number | undefined;
  /** Its client's queued jobs that start before it: 0 for the oldest. */
  readonly queuedAhead: number;
}

/** An output budget its client's ended jobs have filled: nothing of the client starts. */
export interface BudgetSpent {
  readonly budgetBytes: number;
  readonly keptBytes: number;
}

export type Admission =
  | { readonly start: true; readonly outputCapBytes: number | null }
  | { readonly start: false; readonly reason: QueueReason }
  | { readonly start: false; readonly budgetSpent: BudgetSpent };

/**
 * Less than this left of a budget and a job does not start: a job that may keep nothing is of
 * no use to anyone. Smaller for small budgets (outputFloor).
 */
const OUTPUT_FLOOR_BYTES = 1024 ** 2;

/** A client with nothing running or queued. */
export const IDLE_CLIENT: ClientLoad = {
  running: 0,
  reservedBytes: 0,
  memoryTotalBytes: undefined,
  queued: 0,
  keptOutputBytes: 0,
  heldOutputBytes: 0,
};

export function admit(job: Candidate, snapshot: Snapshot): Admission {
  const load = loadOf(job.owner, snapshot);
  const own = clientRules(job, load, snapshot);
  if (!own.start) return own;
  const reason = fairShareHeld(job, load, snapshot) ?? hostMemoryShort(job, load, snapshot);
  return reason === undefined ? own : { start: false, reason };
}

/** Rules 1 to 5: those of the job's own client, whatever other clients do. */
function clientRules(job: Candidate, load: ClientLoad, snapshot: Snapshot): Admission {
  const output = outputAllowance(job, load, snapshot);
  if (output.kind === 'spent') return { start: false, budgetSpent: output.spent };
  const reason =
    behindOwnQueue(job) ?? atRunningCap(job, load, snapshot) ?? pastClientMemory(job, load);
  if (reason !== undefined) return { start: false, reason };
  if (output.kind === 'wait') return { start: false, reason: output.reason };
  return { start: true, outputCapBytes: output.capBytes };
}

function behindOwnQueue(job: Candidate): QueueReason | undefined {
  const ahead = job.queuedAhead;
  if (ahead === 0) return undefined;
  const jobs = ahead === 1 ? 'job starts' : 'jobs start';
  return reason('behind-own-queue', `${job.owner}'s ${ahead} earlier queued ${jobs} first`);
}

function atRunningCap(
  job: Candidate,
  load: ClientLoad,
  snapshot: Snapshot,
): QueueReason | undefined {
  if (load.running < snapshot.runningCap) return undefined;
  return reason(
    'running-cap',
    `${job.owner} runs ${load.running} jobs, the most one client may run at once`,
  );
}

/**
 * Jobs that together pass their client's memory total would run toward one OOM kill in the
 * client's cgroup: the later ones wait instead. A job alone is held to the total by that cgroup
 * whatever it reserves, so it never waits for this.
 */
function pastClientMemory(job: Candidate, load: ClientLoad): QueueReason | undefined {
  const total = job.clientMemoryBytes;
  if (total === undefined || load.running === 0) return undefined;
  if (load.reservedBytes + job.reservationBytes <= total) return undefined;
  return reason(
    'client-memory',
    `${job.owner}'s running jobs reserve ${readableBytes(load.reservedBytes)} of ` +
      `${readableBytes(total)}, the memory all of its jobs may use together, and this job ` +
      `reserves ${readableBytes(job.reservationBytes)}`,
  );
}

type OutputAllowance =
  | { readonly kind: 'cap'; readonly capBytes: number | null }
  | { readonly kind: 'wait'; readonly reason: QueueReason }
  | { readonly kind: 'spent'; readonly spent: BudgetSpent };

/**
 * The most output a job launched now may keep. Under a budget, what is left of it counts ended
 * jobs' output as recorded and running jobs' at the caps they were given (they may yet write
 * that much), so jobs running at once cannot together pass it. A floor is kept in reserve for
 * each of the client's other free running slots, up to a quarter of the budget, so that a client
 * can still run many jobs at once when the budget is less than the per-job cap times its running
 * slots (16 GiB against 64 jobs of 1 GiB by default): the first jobs get the per-job cap, the
 * later ones the floor.
 */
function outputAllowance(job: Candidate, load: ClientLoad, snapshot: Snapshot): OutputAllowance {
  const perJob = snapshot.maxOutputBytes;
  const budget = job.outputBudgetBytes;
  if (budget === undefined) return { kind: 'cap', capBytes: perJob };
  const floor = outputFloor(budget, perJob);
  const kept = load.keptOutputBytes;
  // Only deleting output frees what ended jobs keep: waiting would be for ever.
  if (budget - kept < floor)
    return { kind: 'spent', spent: { budgetBytes: budget, keptBytes: kept } };
  const left = budget - kept - load.heldOutputBytes;
  if (left < floor) {
    return {
      kind: 'wait',
      reason: reason(
        'output-budget',
        `${job.owner}'s ended jobs keep ${readableBytes(kept)} of output and its running jobs ` +
          `may keep ${readableBytes(load.heldOutputBytes)} more, of its ` +
          `${readableBytes(budget)} output budget: it starts as they end`,
      ),
    };
  }
  const otherFreeSlots = Math.max(0, snapshot.runningCap - load.running - 1);
  const reserve = Math.min(floor * otherFreeSlots, Math.floor(budget / 4));
  const cap = Math.max(floor, left - reserve);
  return { kind: 'cap', capBytes: perJob === null ? cap : Math.min(perJob, cap) };
}

/**
 * The least a job under a budget may keep: 1 MiB, or less for a small budget (a quarter of it)
 * or a smaller per-job cap.
 */
export function outputFloor(budgetBytes: number, maxOutputBytes: number | null): number {
  return Math.max(
    1,
    Math.min(OUTPUT_FLOOR_BYTES, maxOutputBytes ?? Infinity, Math.floor(budgetBytes / 4)),
  );
}

/**
 * While another client's job waits for the host, a client that already reserves its fair share
 * of the host's memory (that memory divided by the clients with jobs running or queued) starts
 * nothing new: what frees goes to the waiting client first. A client below its share may still
 * start, so two clients each short of a share never hold each other back. The other client's
 * job counts only when its own client's rules let it start: one held by its own cap could not
 * use what this client leaves.
 */
function fairShareHeld(
  job: Candidate,
  load: ClientLoad,
  snapshot: Snapshot,
): QueueReason | undefined {
  const host = snapshot.hostMemoryBytes;
  if (host === undefined || !anotherClientWaits(job.owner, snapshot)) return undefined;
  const share = host / clientsWithDemand(job.owner, snapshot);
  const reserved = hostReservationOf(load);
  if (reserved < share) return undefined;
  // No figures of the host or of other clients: they would tell of other clients' jobs.
  return reason(
    'fair-share',
    `other clients' jobs wait, and ${job.owner}'s running jobs already reserve ` +
      `${readableBytes(reserved)}, at least its fair share of the host's memory: it starts ` +
      'once they have had their turn',
  );
}

function anotherClientWaits(owner: string, snapshot: Snapshot): boolean {
  return snapshot.queueHeads.some(
    (head) =>
      head.owner !== owner && clientRules(head, loadOf(head.owner, snapshot), snapshot).start,
  );
}

function clientsWithDemand(owner: string, snapshot: Snapshot): number {
  return snapshot.clients.size + (snapshot.clients.has(owner) ? 0 : 1);
}

function hostMemoryShort(
  job: Candidate,
  load: ClientLoad,
  snapshot: Snapshot,
): QueueReason | undefined {
  const host = snapshot.hostMemoryBytes;
  if (host === undefined) return undefined;
  let reserved = 0;
  for (const client of snapshot.clients.values()) reserved += hostReservationOf(client);
  // What this client will reserve with the job, held to its total by its cgroup as before.
  const own = Math.min(
    load.reservedBytes + job.reservationBytes,
    job.clientMemoryBytes ?? Infinity,
  );
  if (reserved - hostReservationOf(load) + own <= host) return undefined;
  return reason(
    'host-memory',
    `the host has not the ${readableBytes(job.reservationBytes)} of memory this job reserves ` +
      'free right now',
  );
}

/** What a client's running jobs reserve of the host: at most its total, which its cgroup holds. */
function hostReservationOf(load: ClientLoad): number {
  return Math.min(load.reservedBytes, load.memoryTotalBytes ?? Infinity);
}

function loadOf(owner: string, snapshot: Snapshot): ClientLoad {
  return snapshot.clients.get(owner) ?? IDLE_CLIENT;
}

function reason(code: QueueReasonCode, message: string): QueueReason {
  return { code, message };
}

/** `8 MiB`, `1.5 GiB`, `640 KiB`: a size for a person, to a tenth of its unit. */
export function readableBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}
