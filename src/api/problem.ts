// The one place where errors become HTTP responses: RFC 9457 problem+json, with the status taken
// from the error's stable code. Clients see messages written for them, never a stack trace;
// unexpected errors are logged in full and answered with a generic 500.
import { STATUS_CODES } from 'node:http';
import type { Next } from 'koa';
import type { AppContext } from './state.ts';
import { CodedError, type ErrorCode } from '../errors.ts';
import { STATUS_OF, type HttpOnlyCode, type Problem } from '../contract/problem.ts';

/** Node's reason phrases, with RFC 9110's name for 413 (Node still says "Payload Too Large"). */
function titleOf(status: number): string {
  return status === 413 ? 'Content Too Large' : (STATUS_CODES[status] ?? 'Error');
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
    // A 500 is the server's own fault, told in its log only; a 507 (the disk's floor, a client's
    // allowance) says what the client can do about it.
    const internal = STATUS_OF[error.code] === 500;
    return {
      code: error.code,
      message: internal ? 'the server could not complete the request' : error.message,
      details: error.details,
    };
  }
  if (error instanceof RouteError) return { code: error.code, message: error.message, details: [] };
  return { code: 'INTERNAL', message: 'the server could not complete the request', details: [] };
}
