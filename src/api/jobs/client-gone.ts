// A client that goes away while its request waits (for a queued job to start) stops the wait:
// an AbortSignal tied to the close of its request or connection, and the way to stop listening
// once the wait is over, so a kept-alive connection gathers no listeners.
import type { EventEmitter } from 'node:events';

export interface ClientGone {
  readonly signal: AbortSignal;
  release(): void;
}

export function abortWhenClosed(closer: EventEmitter): ClientGone {
  const controller = new AbortController();
  const onClose = (): void => controller.abort(new Error('the client went away'));
  closer.once('close', onClose);
  return { signal: controller.signal, release: () => closer.off('close', onClose) };
}
