// Problem details (RFC 9457), the body of every error answer: the table that gives each stable
// code its HTTP status, and the zod schema the OpenAPI document's `Problem` component and the
// `Problem` type are both made from. src/api/problem.ts turns errors into these.
import { z } from 'zod';
import type { ErrorCode } from '../errors.ts';

/** The HTTP status of every code a problem can carry. */
export const STATUS_OF: Readonly<Record<ProblemCode, number>> = {
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
  INPUT_NOT_OPEN: 409,
  INPUT_CLOSED: 409,
  INPUT_BUSY: 409,
  NOT_A_TERMINAL: 409,
  UPGRADE_REQUIRED: 426,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  EXPECTATION_FAILED: 417,
  HEADERS_TOO_LARGE: 431,
  MALFORMED_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  TOO_MANY_JOBS: 429,
  QUEUE_FULL: 429,
  JOB_RATE_EXCEEDED: 429,
  TOO_MANY_REQUESTS: 429,
  TOO_MANY_FOLLOWERS: 429,
  INSUFFICIENT_STORAGE: 507,
  // RFC 4918's 507 is also a quota's answer: the client's own output fills its budget.
  OUTPUT_BUDGET_SPENT: 507,
  RECORD_ALLOWANCE_EXCEEDED: 507,
  INVALID_STATE_TRANSITION: 500,
  LAUNCH_FAILED: 500,
  COMMAND_NOT_FOUND: 422,
  COMMAND_CANNOT_RUN: 422,
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
  | 'TOO_MANY_FOLLOWERS'
  | 'UPGRADE_REQUIRED';

export type ProblemCode = ErrorCode | HttpOnlyCode;

const PROBLEM_CODES = (Object.keys(STATUS_OF) as ProblemCode[]).sort();

export const problemSchema = z
  .object({
    type: z.string().meta({
      format: 'uri',
      description: '`urn:jobworker:problem:` and the code',
    }),
    title: z.string(),
    status: z.int(),
    detail: z.string().meta({ description: 'written for the client; never a stack trace' }),
    instance: z.string().meta({ description: 'the request path' }),
    code: z.enum(PROBLEM_CODES),
    requestId: z.uuid().meta({ description: 'as in X-Request-Id and the server log' }),
    errors: z
      .array(
        z.object({
          field: z.string().meta({ examples: ['args.1', 'limits.memory', '?status', '(body)'] }),
          message: z.string(),
        }),
      )
      .readonly()
      .exactOptional()
      .meta({ description: 'each invalid field or query parameter' }),
  })
  .meta({ description: 'RFC 9457 problem details, with a stable `code` to match on' })
  .readonly();

export type Problem = z.output<typeof problemSchema>;
