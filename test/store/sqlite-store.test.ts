// The SQLite store against the store contract (store-contract.ts): each case on a database file
// of its own, opened through openDatabase as the server opens it, its migrations included.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { openDatabase } from '../../src/store/database.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { storeContract, type StoreUnderTest } from './store-contract.ts';

/** The store and the database under it, closed together as the server closes them. */
class ClosingSqliteStore extends SqliteStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    super(db);
    this.#db = db;
  }

  override async close(): Promise<void> {
    await super.close();
    this.#db.close();
  }
}

async function freshSqliteStore(): Promise<StoreUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'jobworker-store-'));
  return {
    open: () => Promise.resolve(new ClosingSqliteStore(openDatabase(join(dir, 'jobworker.db')))),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

storeContract('SQLite', freshSqliteStore);
