// Requests so malformed that they never reach the Koa app (bad framing, oversized headers, a
// request that took too long, an Expect the server does not meet) still get a problem+json
// answer, instead of Node's bare status line, and one no cache keeps, like the app's own.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { Duplex } from 'node:stream';
import type { HttpOnlyCode } from '../../contract/problem.ts';
import { bareProblem } from '../problem.ts';
import { NO_STORE } from '../middleware/security-headers.ts';

function problemFor(error: NodeJS.ErrnoException): { code: HttpOnlyCode; detail: string } {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return { code: 'HEADERS_TOO_LARGE', detail: 'the request headers are too large' };
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { code: 'REQUEST_TIMEOUT', detail: 'the request took too long to arrive' };
  }
  return { code: 'MALFORMED_REQUEST', detail: 'the request is not valid HTTP/1.1' };
}

function serialize(
  code: HttpOnlyCode,
  detail: string,
): { status: number; body: string; requestId: string } {
  const problem = { ...bareProblem(code, detail), requestId: randomUUID() };
  return { status: problem.status, body: JSON.stringify(problem), requestId: problem.requestId };
}

export function answerMalformedRequests(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // A client that went away needs no answer; one that is still there gets one, then the door.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { code, detail } = problemFor(error);
    const { status, body, requestId } = serialize(code, detail);
    // Written, then destroyed at once as Node itself does: a client still trickling bytes
    // (slowloris) must not keep a half-closed connection open.
    socket.write(
      `HTTP/1.1 ${status} ${code}\r\nContent-Type: application/problem+json\r\n` +
        `Cache-Control: ${NO_STORE}\r\nX-Request-Id: ${requestId}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.destroy();
  });
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const expectation = String(request.headers.expect).slice(0, 64);
    const { status, body, requestId } = serialize(
      'EXPECTATION_FAILED',
      `the server does not meet the expectation '${expectation}'; only 100-continue is supported`,
    );
    response.writeHead(status, {
      'Content-Type': 'application/problem+json',
      'Cache-Control': NO_STORE,
      'X-Request-Id': requestId,
    });
    response.end(body);
  });
}
