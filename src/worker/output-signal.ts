// Wakes a job's output readers. The supervisor's hints bump a version; readers remember the
// version they last saw before reading, so a hint that lands between "read found nothing" and
// "start waiting" is never lost (the reader sees a newer version and reads again at once).

export class OutputSignal {
  #version = 0;
  #ended = false;
  readonly #listeners = new Set<() => void>();

  get version(): number {
    return this.#version;
  }

  /** True once the job has ended and all its output is on disk. */
  get ended(): boolean {
    return this.#ended;
  }

  notify(): void {
    this.#version += 1;
    for (const listener of [...this.#listeners]) listener();
  }

  end(): void {
    this.#ended = true;
    this.notify();
    this.#listeners.clear();
  }

  /** Calls `listener` on the next change after `seenVersion` (at once if there already was one). */
  onChangeSince(seenVersion: number, listener: () => void): () => void {
    if (this.#version !== seenVersion || this.#ended) {
      queueMicrotask(listener);
      return () => undefined;
    }
    const once = (): void => {
      this.#listeners.delete(once);
      listener();
    };
    this.#listeners.add(once);
    return () => this.#listeners.delete(once);
  }
}

/** The signal of a job that has already ended: readers read to the end of the file and stop. */
export function endedSignal(): OutputSignal {
  const signal = new OutputSignal();
  signal.end();
  return signal;
}
