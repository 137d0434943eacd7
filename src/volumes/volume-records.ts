// The volumes table: who owns which volume, its size, and how far its making or removal got.
// Only the manager writes it; every change is durable before the manager goes on, so a crash
// leaves a row that says what to finish (a `creating` volume is undone, a `removing` one removed).
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { durably } from '../store/database.ts';

export type VolumeState = 'creating' | 'ready' | 'removing';

export interface VolumeRow {
  readonly id: number;
  readonly client: string;
  readonly name: string;
  readonly sizeBytes: number;
  readonly state: VolumeState;
  readonly createdAt: Date;
}

interface RawRow {
  id: number;
  client: string;
  name: string;
  size_bytes: number;
  state: VolumeState;
  created_at: string;
}

const COLUMNS = 'id, client, name, size_bytes, state, created_at';

export class VolumeRecords {
  readonly #db: DatabaseSync;
  readonly #byName: StatementSync;
  readonly #insert: StatementSync;
  readonly #setState: StatementSync;
  readonly #delete: StatementSync;
  readonly #all: StatementSync;
  readonly #pageOfClient: StatementSync;
  readonly #pageOfAll: StatementSync;
  readonly #totals: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#byName = db.prepare(`SELECT ${COLUMNS} FROM volumes WHERE client = ? AND name = ?`);
    this.#insert = db.prepare(
      `INSERT INTO volumes (client, name, size_bytes, state, created_at)
       VALUES (?, ?, ?, 'creating', ?) RETURNING ${COLUMNS}`,
    );
    this.#setState = db.prepare('UPDATE volumes SET state = ? WHERE id = ?');
    this.#delete = db.prepare('DELETE FROM volumes WHERE id = ?');
    this.#all = db.prepare(`SELECT ${COLUMNS} FROM volumes ORDER BY id`);
    this.#pageOfClient = db.prepare(
      `SELECT ${COLUMNS} FROM volumes WHERE client = ? AND state = 'ready' AND id < ?
       ORDER BY id DESC LIMIT ?`,
    );
    this.#pageOfAll = db.prepare(
      `SELECT ${COLUMNS} FROM volumes WHERE state = 'ready' AND id < ? ORDER BY id DESC LIMIT ?`,
    );
    // Every row counts, a half-made or half-removed volume too: its image may still hold space.
    this.#totals = db.prepare(
      'SELECT count(*) AS count, coalesce(sum(size_bytes), 0) AS bytes FROM volumes WHERE client = ?',
    );
  }

  /** The client's volume of that name, in whatever state. */
  byName(client: string, name: string): VolumeRow | undefined {
    const row = this.#byName.get(client, name) as RawRow | undefined;
    return row === undefined ? undefined : rowOf(row);
  }

  /** Records a volume about to be made (`creating`); a name the client has is a UNIQUE error. */
  insert(client: string, name: string, sizeBytes: number, createdAt: Date): VolumeRow {
    const row = durably(
      this.#db,
      () => this.#insert.get(client, name, sizeBytes, createdAt.toISOString()) as unknown as RawRow,
    );
    return rowOf(row);
  }

  setState(id: number, state: VolumeState): void {
    durably(this.#db, () => this.#setState.run(state, id));
  }

  delete(id: number): void {
    durably(this.#db, () => this.#delete.run(id));
  }

  /** Every row, oldest first: what a start re-mounts or finishes. */
  all(): VolumeRow[] {
    return (this.#all.all() as unknown as RawRow[]).map(rowOf);
  }

  /** Ready volumes, newest first, of one client or (undefined) of all, after a position. */
  page(client: string | undefined, beforeId: number, limit: number): VolumeRow[] {
    const rows =
      client === undefined
        ? this.#pageOfAll.all(beforeId, limit)
        : this.#pageOfClient.all(client, beforeId, limit);
    return (rows as unknown as RawRow[]).map(rowOf);
  }

  /** How many volumes a client has and their sizes together. */
  totals(client: string): { count: number; bytes: number } {
    return this.#totals.get(client) as unknown as { count: number; bytes: number };
  }
}

function rowOf(row: RawRow): VolumeRow {
  return {
    id: row.id,
    client: row.client,
    name: row.name,
    sizeBytes: row.size_bytes,
    state: row.state,
    createdAt: new Date(row.created_at),
  };
}
