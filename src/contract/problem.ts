// Problem details (RFC 9457), the body of every error answer: the one table that gives each stable
// code its HTTP status, title and retry hint, and the zod schema the OpenAPI document's `Problem`
// component and the `Problem` type are both made from. src/api/problem.ts turns errors into these.
import { z } from 'zod';
import type { ErrorCode } from '../errors.ts';

/** What a problem of one code says besides its detail. */
export interface ProblemKind {
  readonly status: number;
  /** The status's reason phrase (RFC 9110's names), the problem's `title`. */
  readonly title: string;
  /**
   * Seconds a client should wait before it tries again (`Retry-After`), when waiting is what
   * helps; an error that knows better (a token bucket's refill) carries its own.
   */
  readonly retryAfterSeconds?: number;
}

const BAD_REQUEST = { status: 400, title: 'Bad Request' } as const;
const FORBIDDEN = { status: 403, title: 'Forbidden' } as const;
const CONFLICT = { status: 409, title: 'Conflict' } as const;
const TOO_MANY = { status: 429, title: 'Too Many Requests' } as const;
const INSUFFICIENT_STORAGE = { status: 507, title: 'Insufficient Storage' } as const;
const INTERNAL = { status: 500, title: 'Internal Server Error' } as const;
const UNPROCESSABLE = { status: 422, title: 'Unprocessable Entity' } as const;

/** Every code a problem can carry. */
export const PROBLEMS: Readonly<Record<ErrorCode, ProblemKind>> = {
  INVALID_REQUEST: BAD_REQUEST,
  LIMIT_EXCEEDS_CEILING: BAD_REQUEST,
  LIMIT_EXCEEDS_CLIENT_TOTAL: BAD_REQUEST,
  LIMIT_NOT_ENFORCEABLE: BAD_REQUEST,
  IMAGE_NOT_FOUND: BAD_REQUEST,
  LIMIT_EXCEEDS_CAPACITY: BAD_REQUEST,
  SANDBOX_NOT_ALLOWED: FORBIDDEN,
  NETWORK_EGRESS_FORBIDDEN: FORBIDDEN,
  NETWORK_HOST_FORBIDDEN: FORBIDDEN,
  UNAUTHENTICATED: { status: 401, title: 'Unauthorized' },
  FORBIDDEN: FORBIDDEN,
  CLIENT_DISABLED: FORBIDDEN,
  CROSS_SITE_REQUEST: FORBIDDEN,
  NOT_FOUND: { status: 404, title: 'Not Found' },
  JOB_NOT_FOUND: { status: 404, title: 'Not Found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed' },
  JOB_ALREADY_ENDED: CONFLICT,
  JOB_STILL_RUNNING: CONFLICT,
  OUTPUT_UNAVAILABLE: { status: 410, title: 'Gone' },
  INPUT_NOT_OPEN: CONFLICT,
  INPUT_CLOSED: CONFLICT,
  INPUT_BUSY: CONFLICT,
  NOT_A_TERMINAL: CONFLICT,
  UPGRADE_REQUIRED: { status: 426, title: 'Upgrade Required' },
  // RFC 9110's name; Node's reason phrase is still "Payload Too Large".
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Content Too Large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Media Type' },
  EXPECTATION_FAILED: { status: 417, title: 'Expectation Failed' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request Header Fields Too Large' },
  MALFORMED_REQUEST: BAD_REQUEST,
  REQUEST_TIMEOUT: { status: 408, title: 'Request Timeout' },
  // A running job may end any moment; a second is a polite first wait.
  TOO_MANY_JOBS: { ...TOO_MANY, retryAfterSeconds: 1 },
  // A queue drains a job at a time: a polite first wait is longer than for a running slot.
  QUEUE_FULL: { ...TOO_MANY, retryAfterSeconds: 5 },
  // The error says when the client's bucket has a token again.
  JOB_RATE_EXCEEDED: TOO_MANY,
  TOO_MANY_REQUESTS: TOO_MANY,
  TOO_MANY_FOLLOWERS: { ...TOO_MANY, retryAfterSeconds: 1 },
  INSUFFICIENT_STORAGE: INSUFFICIENT_STORAGE,
  // RFC 4918's 507 is also a quota's answer: the client's own output fills its budget.
  OUTPUT_BUDGET_SPENT: INSUFFICIENT_STORAGE,
  RECORD_ALLOWANCE_EXCEEDED: INSUFFICIENT_STORAGE,
  // A client's volumes: each its own; a quota (size, count) or a full volume is a 507 too.
  VOLUME_NOT_FOUND: { status: 404, title: 'Not Found' },
  VOLUME_PATH_NOT_FOUND: { status: 404, title: 'Not Found' },
  VOLUME_EXISTS: CONFLICT,
  VOLUME_IN_USE: CONFLICT,
  VOLUME_BUDGET_EXCEEDED: INSUFFICIENT_STORAGE,
  VOLUME_COUNT_EXCEEDED: INSUFFICIENT_STORAGE,
  VOLUME_FULL: INSUFFICIENT_STORAGE,
  ARCHIVE_REJECTED: UNPROCESSABLE,
  INVALID_STATE_TRANSITION: INTERNAL,
  LAUNCH_FAILED: INTERNAL,
  COMMAND_NOT_FOUND: UNPROCESSABLE,
  COMMAND_CANNOT_RUN: UNPROCESSABLE,
  INTERNAL: INTERNAL,
};

/** The HTTP status of every code, from the table. */
export const STATUS_OF: Readonly<Record<ErrorCode, number>> = Object.fromEntries(
  Object.entries(PROBLEMS).map(([code, kind]) => [code, kind.status]),
) as Record<ErrorCode, number>;

/** Codes answered outside the Koa app, for HTTP it could not parse. */
export type HttpOnlyCode =
  'MALFORMED_REQUEST' | 'REQUEST_TIMEOUT' | 'EXPECTATION_FAILED' | 'HEADERS_TOO_LARGE';

const PROBLEM_CODES = (Object.keys(PROBLEMS) as ErrorCode[]).sort();

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
