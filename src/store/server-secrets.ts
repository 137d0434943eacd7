// Random keys the server keeps across restarts (the key that seals list cursors), in the store
// next to what they protect: a backup of data/ restores them with the jobs.
import { randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { durably } from './database.ts';

const KEY_BYTES = 32;

/** The key called `name`, made (32 random bytes) on first use. */
export function serverSecret(db: DatabaseSync, name: string): Buffer {
  durably(db, () =>
    db
      .prepare('INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)')
      .run(name, randomBytes(KEY_BYTES)),
  );
  const row = db.prepare('SELECT value FROM server_secrets WHERE name = ?').get(name) as {
    value: Uint8Array;
  };
  return Buffer.from(row.value);
}
