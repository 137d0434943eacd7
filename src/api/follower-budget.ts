// How many output streams one client may hold open at once. A follower costs the server a file
// handle, a read buffer and a TLS connection for as long as the job runs, so without a budget
// one client's thousands of followers take the server's descriptors and memory from everyone.
import { RouteError } from './problem.ts';

export class FollowerBudget {
  readonly #perClient: number;
  readonly #open = new Map<string, number>();

  constructor(perClient: number) {
    this.#perClient = perClient;
  }

  /** Takes one of the client's streams, or throws 429; the returned function gives it back. */
  take(client: string): () => void {
    const open = this.#open.get(client) ?? 0;
    if (open >= this.#perClient) {
      throw new RouteError(
        'TOO_MANY_FOLLOWERS',
        `client '${client}' already has ${open} output streams open, the most one client may; ` +
          'close one (or read without ?follow) and try again',
        { retryAfterSeconds: 1 },
      );
    }
    this.#open.set(client, open + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.#open.get(client) ?? 1) - 1;
      if (left === 0) this.#open.delete(client);
      else this.#open.set(client, left);
    };
  }
}
