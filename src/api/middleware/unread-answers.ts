// An answer its client has stopped reading is closed after a deadline, and what it held is
// released. A streamed answer (a listing, a job's output) waits on its client only while the
// client's socket is full: then the stream pauses, and if the socket has not drained within the
// deadline the connection is destroyed, which destroys the stream and the reader behind it. A
// follower of a quiet job is not waiting on its client (nothing is pending), so quiet is never
// cut off; a follower whose socket stays full is. An answer written at once (JSON) must be handed
// to the kernel whole within the deadline. WebSockets (attach) keep their own flow control.
import { Stream } from 'node:stream';
import type { Next } from 'koa';
import type { AppContext } from '../state.ts';

export function closeUnreadAnswers(deadlineMs: number) {
  return async function unreadAnswers(ctx: AppContext, next: Next): Promise<void> {
    await next();
    // After next(): the body is the one Koa is about to send. An upgrade answers for itself.
    if (ctx.respond === false || ctx.res.destroyed || ctx.res.writableFinished) return;
    watchReader(ctx, deadlineMs);
  };
}

function watchReader(ctx: AppContext, deadlineMs: number): void {
  const { res } = ctx;
  const body: unknown = ctx.body;
  let deadline: NodeJS.Timeout | undefined;
  const close = (): void => {
    const identity = ctx.state.identity as AppContext['state']['identity'] | undefined;
    ctx.state.log.warn(
      { client: identity?.name, method: ctx.method, path: ctx.path, deadlineMs },
      'closed an answer its client stopped reading',
    );
    res.destroy();
  };
  const waitForReader = (): void => {
    deadline ??= setTimeout(close, deadlineMs);
  };
  const readerCaughtUp = (): void => {
    clearTimeout(deadline);
    deadline = undefined;
  };
  if (body instanceof Stream) {
    // Koa pipes the body to the response: the pipe pauses it when the socket is full, and
    // resumes it when the response drains.
    body.on('pause', waitForReader);
    res.on('drain', readerCaughtUp);
  } else {
    waitForReader();
  }
  res.once('finish', readerCaughtUp);
  res.once('close', () => {
    readerCaughtUp();
    if (body instanceof Stream) body.off('pause', waitForReader);
    res.off('drain', readerCaughtUp);
  });
}
