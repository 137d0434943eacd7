// How many output streams one client may hold open at once. A follower costs the server a file
// handle, a read buffer and a TLS connection for as long as the job runs, so without a budget
// one client's thousands of followers take the server's descriptors and memory from everyone.
import { TooManyFollowersError } from '../../errors.ts';
import { ClientCounts } from '../../util/client-counts.ts';

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
      throw new TooManyFollowersError(client, open);
    }
    return this.#open.take(client);
  }
}
