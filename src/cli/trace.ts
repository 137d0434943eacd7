// jobctl's W3C trace context: one trace id for the whole command, sent in `traceparent` with a
// new parent id on every request, so the server's log lines and audit records of one jobctl
// command share it. A `TRACEPARENT` in the environment (as CI systems and OpenTelemetry tools
// set it) puts the command into that trace instead.
import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export class TraceContext {
  readonly traceId: string;

  constructor(inherited: string | undefined) {
    const traceId = TRACEPARENT.exec(inherited?.trim() ?? '')?.[1];
    this.traceId =
      traceId === undefined || /^0+$/.test(traceId) ? randomBytes(16).toString('hex') : traceId;
  }

  /** A `traceparent` for one request: this trace, a new span, sampled. */
  traceparent(): string {
    return `00-${this.traceId}-${randomBytes(8).toString('hex')}-01`;
  }
}
