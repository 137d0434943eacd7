// The one place where errors become HTTP responses: RFC 9457 problem+json, with the status, title
// and retry hint taken from the contract's table for the error's stable code. Clients see
// messages written for them, never a stack trace; unexpected errors are logged in full and
// answered with a generic 500.
import type { Next } from 'koa';
import type { AppContext } from './state.ts';
import {
  CodedError,
  MethodNotAllowedError,
  NoRouteError,
  type ErrorCode,
  type ErrorDetail,
} from '../errors.ts';
import { PROBLEMS, type HttpOnlyCode, type Problem } from '../contract/problem.ts';

/** The problem of a code, but for what only a request knows (its path and id). */
function problemOf(code: ErrorCode, detail: string, details: readonly ErrorDetail[]): Problem {
  const { status, title } = PROBLEMS[code];
  return {
    type: `urn:jobworker:problem:${code.toLowerCase().replaceAll('_', '-')}`,
    title,
    status,
    detail,
    instance: '',
    code,
    requestId: '',
    ...(details.length > 0 ? { errors: details } : {}),
  };
}

/** A problem answered outside the Koa app (malformed HTTP), in the same shape and table. */
export function bareProblem(code: HttpOnlyCode, detail: string): Problem {
  return problemOf(code, detail, []);
}

export async function problemDetails(ctx: AppContext, next: Next): Promise<void> {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) throw new NoRouteError(ctx.method, ctx.path);
    // The router's own answers to a method a path does not have (501 for methods it does not
    // know at all): the same problem either way, keeping the router's Allow header.
    if ((ctx.status === 405 || ctx.status === 501) && ctx.body === undefined) {
      const allow = ctx.response.get('Allow');
      ctx.remove('Allow');
      if (allow === '') throw new NoRouteError(ctx.method, ctx.path);
      throw new MethodNotAllowedError(ctx.method, ctx.path, allow);
    }
  } catch (error) {
    const coded = codedErrorOf(error);
    const problem = problemOf(coded.code, coded.message, coded.details);
    if (problem.status >= 500) ctx.state.log.error({ err: error }, 'request failed');
    ctx.status = problem.status;
    ctx.type = 'application/problem+json';
    ctx.body = { ...problem, instance: ctx.path, requestId: ctx.state.requestId };
    const retryAfter = coded.retryAfterSeconds ?? PROBLEMS[coded.code].retryAfterSeconds;
    if (retryAfter !== undefined) ctx.set('Retry-After', String(retryAfter));
    if (coded instanceof MethodNotAllowedError) ctx.set('Allow', coded.allow);
  }
}

const INTERNAL_DETAIL = 'the server could not complete the request';

/**
 * The error as the client is told it. A 500 is the server's own fault, told in its log only; a
 * 507 (the disk's floor, a client's allowance) says what the client can do about it.
 */
function codedErrorOf(error: unknown): CodedError {
  if (!(error instanceof CodedError)) return new CodedError('INTERNAL', INTERNAL_DETAIL);
  if (PROBLEMS[error.code].status !== 500) return error;
  return new CodedError(error.code, INTERNAL_DETAIL, { details: error.details });
}
