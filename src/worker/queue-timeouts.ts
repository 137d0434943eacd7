// The timers of queued jobs that wait at most so long (`queueTimeoutMs`), counted from when the
// job was accepted, so a restart arms them again for what is left. They hold no server open:
// the queue is in the store.
import type { Job } from '../jobs/job.ts';

export class QueueTimeouts {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #onTimeout: (job: Job) => void;
  #closed = false;

  /** `onTimeout` is called when a job's time is up, whatever its status is by then. */
  constructor(onTimeout: (job: Job) => void) {
    this.#onTimeout = onTimeout;
  }

  arm(job: Job): void {
    if (job.queueTimeoutMs === null || this.#closed) return;
    const due = Date.parse(job.createdAt) + job.queueTimeoutMs - Date.now();
    const timer = setTimeout(
      () => {
        this.#timers.delete(job.id);
        this.#onTimeout(job);
      },
      Math.max(0, due),
    );
    // The queue is in the store: a timer alone does not keep a stopping server alive.
    timer.unref();
    this.#timers.set(job.id, timer);
  }

  clear(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  /** Stops every timer: the next server arms them again from the store. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
  }
}
