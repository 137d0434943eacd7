// How many output streams one client may hold open at once. A follower costs the server a file
// handle, a read buffer and a TLS connection for as long as the job runs, so without a budget
// one client's thousands of followers take the server's descriptors and memory from everyone.
import { ClientCounts } from '../../util/client-counts.ts';
import { RouteError } from '../problem.ts';

export class FollowerBudget {
  readonly #perClient: number;
  readonly #open = new ClientCounts();

  constructor(perClient: number) {
    this.#perClient = perClient;
  }

  /** Takes one of the client's streams, or throws 429; the returned function gives it back. */
  take(client: string): () => void {
    const open = this.#open.of(client);
    if (open >= this.#perClient) {
      throw new RouteError(
        'TOO_MANY_FOLLOWERS',
        `client '${client}' already has ${open} output streams open, the most one client may; ` +
          'close one (or read without ?follow) and try again',
        { retryAfterSeconds: 1 },
      );
    }
    return this.#open.take(client);
  }
}
