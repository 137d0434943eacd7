// W3C Trace Context (https://www.w3.org/TR/trace-context/): a client that sends `traceparent`
// (jobctl does) has its trace id carried into the server's log lines and audit records, so one
// command can be followed from the client through the server to what it did to jobs. A request
// without one (or with a malformed one, which the spec says to ignore) gets a new trace id.
import { randomBytes } from 'node:crypto';

/** version "-" trace-id "-" parent-id "-" flags, lower-case hex; version ff is invalid. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZEROS = /^0+$/;

export function traceIdOf(traceparent: string): string {
  const match = TRACEPARENT.exec(traceparent.trim());
  const [, version, traceId, parentId] = match ?? [];
  const valid =
    version !== undefined &&
    traceId !== undefined &&
    parentId !== undefined &&
    version !== 'ff' &&
    // Version 00 has exactly four fields; later versions may add more.
    (version !== '00' || match?.[5] === undefined) &&
    !ALL_ZEROS.test(traceId) &&
    !ALL_ZEROS.test(parentId);
  return valid ? traceId : randomBytes(16).toString('hex');
}
