// Each client's own uid for its sandboxed jobs, allocated once from the operator's range and kept,
// so the same client always runs as the same uid (files it leaves in a shared writable path stay
// its own) and two clients never share one.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { durably } from './database.ts';

export interface UidRange {
  readonly first: number;
  readonly count: number;
}

export class UidRangeExhaustedError extends Error {
  readonly code = 'UID_RANGE_EXHAUSTED';
  constructor(range: UidRange) {
    super(
      `no free uid left in ${range.first}..${range.first + range.count - 1} for a new client; ` +
        'widen --sandbox-uid-count',
    );
    this.name = 'UidRangeExhaustedError';
  }
}

export class ClientAccounts {
  readonly range: UidRange;
  readonly #taken: (id: number) => boolean;
  readonly #db: DatabaseSync;
  readonly #byClient: StatementSync;
  readonly #insert: StatementSync;
  readonly #allUids: StatementSync;
  readonly #cache = new Map<string, number>();

  /** `taken` says whether an id already belongs to an account or group of the host. */
  constructor(db: DatabaseSync, range: UidRange, taken: (id: number) => boolean) {
    this.range = range;
    this.#taken = taken;
    this.#db = db;
    this.#byClient = db.prepare('SELECT uid FROM client_accounts WHERE client = ?');
    this.#insert = db.prepare('INSERT INTO client_accounts (client, uid) VALUES (?, ?)');
    this.#allUids = db.prepare('SELECT uid FROM client_accounts');
  }

  /** The client's uid (its gid is the same number); allocated on first use. */
  uidOf(client: string): number {
    const cached = this.#cache.get(client);
    if (cached !== undefined) return cached;
    const row = this.#byClient.get(client) as { uid: number } | undefined;
    const uid = row?.uid ?? this.#allocate(client);
    this.#cache.set(client, uid);
    return uid;
  }

  #allocate(client: string): number {
    const used = new Set((this.#allUids.all() as { uid: number }[]).map((row) => row.uid));
    const { first, count } = this.range;
    for (let uid = first; uid < first + count; uid += 1) {
      if (used.has(uid) || this.#taken(uid)) continue;
      // Durable before any job runs as it: after a power loss, no other client may get it.
      durably(this.#db, () => this.#insert.run(client, uid));
      return uid;
    }
    throw new UidRangeExhaustedError(this.range);
  }
}
