// Makes the database's committed writes durable without holding the event loop: an fdatasync of
// the write-ahead log on the thread pool. With synchronous=NORMAL a commit is in the log (in the
// kernel's cache) when it returns; one fdatasync of the log then puts it, and every commit before
// it, on the disk. Concurrent callers share syncs (group commit): each waits for the first sync
// that starts after its call, since one already running may have started before its commit.
import { open, type FileHandle } from 'node:fs/promises';

export class LogSync {
  readonly #walPath: string;
  #file: Promise<FileHandle> | undefined;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #closed = false;
  /**
   * After a failed fdatasync the kernel may have dropped the pages it could not write and marked
   * them clean, so a later sync that succeeds proves nothing about them: no sync succeeds again.
   */
  #failure: Error | undefined;

  constructor(databasePath: string) {
    this.#walPath = `${databasePath}-wal`;
  }

  /** Resolves once every commit made before the call is on the disk. */
  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the job store is closed'));
    if (this.#running === undefined) return this.#start();
    // A sync is running, and may have begun before this caller's commit: the next one covers it.
    this.#next ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        return this.#start();
      });
    return this.#next;
  }

  /** Refuses new callers; syncs already asked for are made first. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([this.#running, this.#next]);
    const file = this.#file;
    this.#file = undefined;
    await (await file?.catch(() => undefined))?.close();
  }

  #start(): Promise<void> {
    const running = this.#fdatasync().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  async #fdatasync(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      // SQLite keeps the log file (same inode) for as long as the database is open, so one
      // descriptor serves every sync; it is opened at the first, after a commit created the log.
      this.#file ??= open(this.#walPath, 'r');
      await (await this.#file).datasync();
    } catch (error) {
      this.#failure = new Error('sync the job store to disk', { cause: error });
      throw this.#failure;
    }
  }
}
