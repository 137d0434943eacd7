// Reads and discards the rest of a request body the server refused part way (INPUT_CLOSED on a
// job's input, a 413), as nginx's lingering close does. Closing at once, with the client still
// sending, makes the kernel answer its next bytes with a reset, and a reset throws away whatever
// the client had not read yet: the refusal itself. The client then sees EPIPE or ECONNRESET
// instead of the problem that says why. Draining keeps the connection until the body ends (it may
// then carry another request) or a bound is reached, when it is closed: by then the answer has
// long been read.
import type { IncomingMessage } from 'node:http';

/** How much of a refused body is read, and for how long, before the connection is closed. */
export const LINGER = { bytes: 16 * 1024 * 1024, ms: 2000 } as const;

/** Starts discarding what is left of `request`'s body; the answer is sent meanwhile. */
export function lingerAfterRefusal(request: IncomingMessage, bounds = LINGER): void {
  if (request.complete || request.destroyed) return;
  const { socket } = request;
  let discarded = 0;
  let bodyEnded = false;
  let closeAsked = false;
  // Node closes a `Connection: close` answer's socket with destroySoon(): its end, then at once
  // its destruction, unread bytes and all (the reset). Until the body has ended, only the end:
  // the answer and a FIN go, and reading goes on here.
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = (): void => {
    if (bodyEnded) return destroySoon();
    closeAsked = true;
    socket.end();
  };
  const close = (): void => {
    stop();
    socket.destroy();
  };
  const timer = setTimeout(close, bounds.ms);
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > bounds.bytes) close();
  };
  // Read to its end: a connection kept alive carries the next request; one asked to close goes.
  const onEnd = (): void => {
    bodyEnded = true;
    stop();
    if (closeAsked) socket.destroy();
  };
  function stop(): void {
    clearTimeout(timer);
    request.off('data', onData);
    request.off('end', onEnd);
    socket.off('close', stop);
  }
  request.on('data', onData);
  request.once('end', onEnd);
  socket.once('close', stop);
  request.resume();
}
