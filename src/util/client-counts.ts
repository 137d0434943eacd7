// How many of something (connections, output streams) each client holds now, and all of them
// together. Taking one returns the function that gives it back; giving back twice is harmless,
// so every path that ends a holding may call it.
export class ClientCounts {
  readonly #held = new Map<string, number>();
  #total = 0;

  of(client: string): number {
    return this.#held.get(client) ?? 0;
  }

  get total(): number {
    return this.#total;
  }

  take(client: string): () => void {
    this.#held.set(client, this.of(client) + 1);
    this.#total += 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#total -= 1;
      const left = this.of(client) - 1;
      if (left <= 0) this.#held.delete(client);
      else this.#held.set(client, left);
    };
  }
}
