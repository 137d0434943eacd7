// Requests that wait for a queued or starting job to be launched: a writer of its input, which
// can only open the job's input once its supervisor runs. Settled when the job is handed to its
// supervisor or ends without one; a waiter whose request goes away stops waiting.

export class LaunchWaiters {
  readonly #waiting = new Map<string, Set<() => void>>();

  /** Resolves at the job's next `settle`; rejects with the signal's reason if it aborts first. */
  wait(id: string, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const waiters = this.#waiting.get(id) ?? new Set<() => void>();
      this.#waiting.set(id, waiters);
      const onAbort = (): void => {
        forget();
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const settled = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const forget = (): void => {
        waiters.delete(settled);
        if (waiters.size === 0) this.#waiting.delete(id);
      };
      waiters.add(settled);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The job was launched or has ended: every waiter looks again. */
  settle(id: string): void {
    const waiters = this.#waiting.get(id);
    if (waiters === undefined) return;
    this.#waiting.delete(id);
    for (const settled of waiters) settled();
  }
}
