// Which queued job starts next: round-robin between clients, oldest first within a client. A
// client with 1,000 queued jobs therefore delays another client's first job by one start at
// most. Pure, so the order can be tested without a server.

export interface QueueHead {
  readonly owner: string;
}

/**
 * The first head, in client order starting after the client served last, that `canStart`
 * allows (the registry asks admission.ts); undefined when none can start now.
 */
export function nextToStart<T extends QueueHead>(
  heads: readonly T[],
  servedLast: string | undefined,
  canStart: (head: T) => boolean,
): T | undefined {
  const byOwner = [...heads].sort((a, b) => (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
  const after =
    servedLast === undefined ? -1 : byOwner.findIndex((head) => head.owner > servedLast);
  const start = after === -1 ? 0 : after;
  const turn = [...byOwner.slice(start), ...byOwner.slice(0, start)];
  return turn.find(canStart);
}
