// What middleware attaches to each request, typed once so handlers never read an untyped
// ctx.state.
import type { Next, ParameterizedContext } from 'koa';
import type { Logger } from 'pino';
import type { Identity } from '../pki/identity.ts';
import type { Job } from '../jobs/job.ts';
import type { InputResult } from './jobs/job-input.ts';

export interface AppState {
  requestId: string;
  /** The W3C trace id: the client's `traceparent`'s, or a new one. */
  traceId: string;
  log: Logger;
  /** Set by the identity middleware before any route runs. */
  identity: Identity;
  /** The serial of the caller's certificate (normalised hex), set with `identity`. */
  certificateSerial: string;
  /** The job a request acted on, once a route has found or created it: for the audit trail. */
  job?: Job;
  /** What a writer of a job's input sent, and whether it ended the input: for the audit trail. */
  input?: InputResult;
  /** The volume a request acted on, and how (a new one's size, an archive's path and bytes). */
  volume?: { name: string; sizeBytes?: number; path?: string; bytes?: number };
}

export type AppContext = ParameterizedContext<AppState>;
export type Middleware = (ctx: AppContext, next: Next) => Promise<void>;
