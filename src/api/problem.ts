// The one place where errors become HTTP responses: RFC 9457 problem+json, with the status taken
// from the error's stable code. Clients see messages written for them, never a stack trace;
// unexpected errors are logged in full and answered with a generic 500.
import { STATUS_CODES } from 'node:http';
import type { Next } from 'koa';
import type { AppContext } from './state.ts';
import { CodedError, type ErrorCode } from '../errors.ts';

export const STATUS_OF: Readonly<Record<ErrorCode | HttpOnlyCode, number>> = {
  INVALID_REQUEST: 400,
  LIMIT_EXCEEDS_CEILING: 400,
  LIMIT_EXCEEDS_CLIENT_TOTAL: 400,
  LIMIT_NOT_ENFORCEABLE: 400,
  IMAGE_NOT_FOUND: 400,
  LIMIT_EXCEEDS_CAPACITY: 400,
  SANDBOX_NOT_ALLOWED: 403,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CLIENT_DISABLED: 403,
  CROSS_SITE_REQUEST: 403,
  NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  JOB_ALREADY_ENDED: 409,
  JOB_STILL_RUNNING: 409,
  OUTPUT_UNAVAILABLE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  EXPECTATION_FAILED: 417,
  HEADERS_TOO_LARGE: 431,
  MALFORMED_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  TOO_MANY_JOBS: 429,
  QUEUE_FULL: 429,
  TOO_MANY_REQUESTS: 429,
  TOO_MANY_FOLLOWERS: 429,
  INSUFFICIENT_STORAGE: 507,
  INVALID_STATE_TRANSITION: 500,
  LAUNCH_FAILED: 500,
  INTERNAL: 500,
};

/** Codes that only the HTTP layer produces (framing, routing, authentication, rate limits). */
export type HttpOnlyCode =
  | 'MALFORMED_REQUEST'
  | 'REQUEST_TIMEOUT'
  | 'EXPECTATION_FAILED'
  | 'HEADERS_TOO_LARGE'
  | 'UNAUTHENTICATED'
  | 'CLIENT_DISABLED'
  | 'CROSS_SITE_REQUEST'
  | 'METHOD_NOT_ALLOWED'
  | 'TOO_MANY_REQUESTS'
  | 'TOO_MANY_FOLLOWERS';

/** Node's reason phrases, with RFC 9110's name for 413 (Node still says "Payload Too Large"). */
function titleOf(status: number): string {
  return status === 413 ? 'Content Too Large' : (STATUS_CODES[status] ?? 'Error');
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance: string;
  readonly code: string;
  readonly requestId: string;
  readonly errors?: readonly { field: string; message: string }[];
}

/** A problem answered outside the Koa app (malformed HTTP), in the same shape and table. */
export function bareProblem(code: HttpOnlyCode, detail: string): Problem {
  const status = STATUS_OF[code];
  return {
    type: `urn:jobworker:problem:${code.toLowerCase().replaceAll('_', '-')}`,
    title: titleOf(status),
    status,
    detail,
    instance: '',
    code,
    requestId: '',
  };
}

export async function problemDetails(ctx: AppContext, next: Next): Promise<void> {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) {
      throw new RouteError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
    }
    // The router's own answers to a method a path does not have (501 for methods it does not
    // know at all): the same problem either way, keeping the router's Allow header.
    if ((ctx.status === 405 || ctx.status === 501) && ctx.body === undefined) {
      const allow = ctx.response.get('Allow');
      ctx.remove('Allow');
      if (allow === '') throw new RouteError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      throw new RouteError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`, {
        allow,
      });
    }
  } catch (error) {
    const { code, message, details } = problemFieldsOf(error);
    const status = STATUS_OF[code];
    if (status >= 500) ctx.state.log.error({ err: error }, 'request failed');
    const problem: Problem = {
      type: `urn:jobworker:problem:${code.toLowerCase().replaceAll('_', '-')}`,
      title: titleOf(status),
      status,
      detail: message,
      instance: ctx.path,
      code,
      requestId: ctx.state.requestId,
      ...(details.length > 0 ? { errors: details } : {}),
    };
    ctx.status = status;
    ctx.type = 'application/problem+json';
    ctx.body = problem;
    const retryAfter =
      error instanceof Error
        ? (error as Error & { retryAfterSeconds?: unknown }).retryAfterSeconds
        : undefined;
    if (typeof retryAfter === 'number') ctx.set('Retry-After', String(retryAfter));
    if (status === 405 && error instanceof RouteError && error.allow !== undefined) {
      ctx.set('Allow', error.allow);
    }
  }
}

/** Errors raised by routing and authentication, which have no CodedError of their own. */
export class RouteError extends Error {
  readonly code: HttpOnlyCode | 'NOT_FOUND';
  readonly allow: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: HttpOnlyCode | 'NOT_FOUND',
    message: string,
    options: { allow?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'RouteError';
    this.code = code;
    this.allow = options.allow;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

function problemFieldsOf(error: unknown): {
  code: ErrorCode | HttpOnlyCode;
  message: string;
  details: readonly { field: string; message: string }[];
} {
  if (error instanceof CodedError) {
    const internal = STATUS_OF[error.code] >= 500;
    return {
      code: error.code,
      message: internal ? 'the server could not complete the request' : error.message,
      details: error.details,
    };
  }
  if (error instanceof RouteError) return { code: error.code, message: error.message, details: [] };
  return { code: 'INTERNAL', message: 'the server could not complete the request', details: [] };
}
