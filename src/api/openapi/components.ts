// The components every operation shares: the job id parameter, the headers, the problem answers
// (each pinned to the codes its status can carry, from the contract's table), and the helpers
// that write a success or a problem in their shape.
import { STATUS_OF } from '../../contract/problem.ts';
import { MAX_BODY_BYTES } from '../http/json-body.ts';
import type {
  Header,
  JsonSchema,
  MediaType,
  OpenApiDocument,
  Parameter,
  Reference,
  ResponseObject,
} from './types.ts';

function codesWithStatus(status: number): string[] {
  return Object.entries(STATUS_OF)
    .filter(([, codeStatus]) => codeStatus === status)
    .map(([code]) => code)
    .sort();
}

export function ref(kind: keyof OpenApiDocument['components'], name: string): Reference {
  return { $ref: `#/components/${kind}/${name}` };
}

export const PARAMETERS: Readonly<Record<string, Parameter>> = {
  JobId: {
    name: 'id',
    in: 'path',
    required: true,
    description: "the job's id; any value that is not a job's id answers 404",
    schema: { type: 'string', format: 'uuid', maxLength: 36 },
  },
};

export const HEADERS: Readonly<Record<string, Header>> = {
  RequestId: {
    description: 'the id of this request, as in problem bodies (`requestId`) and the server log',
    required: true,
    schema: { type: 'string', format: 'uuid' },
  },
  RetryAfter: {
    description: 'seconds to wait before trying again',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  },
  Allow: {
    description: 'the methods this path answers (RFC 9110)',
    required: true,
    schema: { type: 'string' },
  },
  RateLimitPolicy: {
    description:
      "the client's request rate policy (IETF httpapi RateLimit fields, structured-field form): `q` requests per `w` seconds, refilled continuously",
    required: false,
    schema: { type: 'string', pattern: '^"[a-z-]+";q=\\d+;w=\\d+$' },
  },
  RateLimit: {
    description:
      "what is left of the client's request budget: `r` requests now, full again in `t` seconds",
    required: false,
    schema: { type: 'string', pattern: '^"[a-z-]+";r=\\d+;t=\\d+$' },
  },
};

export const requestId = {
  'X-Request-Id': ref('headers', 'RequestId'),
  'RateLimit-Policy': ref('headers', 'RateLimitPolicy'),
  RateLimit: ref('headers', 'RateLimit'),
};
const retryAfter = { 'Retry-After': ref('headers', 'RetryAfter') };

// ---- Responses ------------------------------------------------------------------------------

export const json = (schema: JsonSchema): Readonly<Record<string, MediaType>> => ({
  'application/json': { schema },
});

export function success(
  description: string,
  content?: Readonly<Record<string, MediaType>>,
  headers: Readonly<Record<string, Header | Reference>> = {},
): ResponseObject {
  return {
    description,
    headers: { ...requestId, ...headers },
    ...(content === undefined ? {} : { content }),
  };
}

/** A problem+json response whose `status` and `code` are pinned to what this status can carry. */
export function problem(
  status: number,
  description: string,
  codes: readonly string[] = codesWithStatus(status),
  headers: Readonly<Record<string, Header | Reference>> = {},
): ResponseObject {
  const pinned = {
    type: 'object',
    properties: { status: { const: status }, code: { enum: codes } },
  };
  return {
    description,
    headers: { ...requestId, ...headers },
    content: {
      'application/problem+json': {
        schema: { type: 'object', allOf: [ref('schemas', 'Problem'), pinned] },
      },
    },
  };
}

/** When a browser's request is refused for coming from another site (api/middleware/cross-site.ts). */
const CROSS_SITE =
  "a browser sent the request from another site's page (Sec-Fetch-Site or Origin), and it is " +
  'not a navigation to a page of the console';

export const RESPONSES: Readonly<Record<string, ResponseObject>> = {
  InvalidQuery: problem(
    400,
    '`INVALID_REQUEST`: a query parameter is invalid or unknown (`errors` names each); ' +
      '`MALFORMED_REQUEST`: the request is not valid HTTP/1.1',
    ['INVALID_REQUEST', 'MALFORMED_REQUEST'],
  ),
  MalformedRequest: problem(400, 'the request is not valid HTTP/1.1', ['MALFORMED_REQUEST']),
  RequestTimeout: problem(
    408,
    'the request headers did not arrive in time; the connection is closed (so is the ' +
      'connection of a body that is not complete 30 s after its headers, except the input ' +
      'of a job)',
    ['REQUEST_TIMEOUT'],
  ),
  ExpectationFailed: problem(417, 'an `Expect` header other than `100-continue`', [
    'EXPECTATION_FAILED',
  ]),
  HeadersTooLarge: problem(431, 'the request headers are too large', ['HEADERS_TOO_LARGE']),
  InvalidJobRequest: problem(
    400,
    'malformed JSON, an invalid field (each named in `errors`), a bad query parameter, a limit ' +
      "above the caller's role ceiling or above what all of the client's jobs may use together, " +
      'a limit or sandbox this host cannot give, an image that does not exist, or a memory ' +
      'limit more than the host gives all jobs together (`LIMIT_EXCEEDS_CAPACITY`: it could ' +
      'never start)',
  ),
  Unauthenticated: problem(
    401,
    'the client certificate names no known client and role (the TLS layer refuses such ' +
      'certificates first, so this is a second line of defence)',
  ),
  Forbidden: problem(
    403,
    "`FORBIDDEN`: the caller's role may not do this; `CLIENT_DISABLED`: the server's identity " +
      "policy disables the client; `SANDBOX_NOT_ALLOWED`: the caller's role may not run jobs on " +
      "the host's filesystem; `NETWORK_EGRESS_FORBIDDEN`, `NETWORK_HOST_FORBIDDEN`: the " +
      "caller's role may not run jobs with that network mode; `CROSS_SITE_REQUEST`: " +
      CROSS_SITE,
  ),
  ClientDisabledOrCrossSite: problem(
    403,
    "`CLIENT_DISABLED`: the server's identity policy disables the client; " +
      '`CROSS_SITE_REQUEST`: ' +
      CROSS_SITE,
    ['CLIENT_DISABLED', 'CROSS_SITE_REQUEST'],
  ),
  JobNotFound: problem(404, "no such job, or another client's job: the two answers are identical", [
    'JOB_NOT_FOUND',
  ]),
  NoSuchFile: problem(404, 'not a file of the console', ['NOT_FOUND']),
  MethodNotAllowed: problem(
    405,
    'the path exists but not with this method: every path answers 405 to the methods it does ' +
      'not list, and names those it does in `Allow`',
    codesWithStatus(405),
    { Allow: ref('headers', 'Allow') },
  ),
  JobAlreadyEnded: problem(409, 'the job has already ended', ['JOB_ALREADY_ENDED']),
  JobStillRunning: problem(409, 'the job is still running; stop it first', ['JOB_STILL_RUNNING']),
  OutputUnavailable: problem(410, "the job's output files are gone"),
  PayloadTooLarge: problem(413, `the body is over ${MAX_BODY_BYTES} bytes`),
  UnsupportedMediaType: problem(415, 'a body that is not `application/json`'),
  TooManyRequests: problem(
    429,
    'the client is over its request rate; try again after `Retry-After` seconds',
    ['TOO_MANY_REQUESTS'],
    retryAfter,
  ),
  TooManyRequestsOrJobs: problem(
    429,
    '`TOO_MANY_REQUESTS`: the client is over its request rate; `TOO_MANY_JOBS` (with ' +
      '`?queue=false`): the job cannot start now, for the reason it would be queued for (its ' +
      "client runs its most jobs; its client's memory total, output budget or fair share; the " +
      "host's memory), which the detail gives; `QUEUE_FULL`: it already has as many jobs " +
      'queued as one client may; `JOB_RATE_EXCEEDED`: it creates jobs faster than one client may a minute; ' +
      '`TOO_MANY_FOLLOWERS` (with `?follow=true`): it already holds as many output streams ' +
      'open as one client may. Try again after `Retry-After` seconds',
    ['JOB_RATE_EXCEEDED', 'QUEUE_FULL', 'TOO_MANY_FOLLOWERS', 'TOO_MANY_JOBS', 'TOO_MANY_REQUESTS'],
    retryAfter,
  ),
  TooManyRequestsOrFollowers: problem(
    429,
    '`TOO_MANY_REQUESTS`: the client is over its request rate; `TOO_MANY_FOLLOWERS`: it ' +
      'already holds as many output streams open as one client may. Try again after ' +
      '`Retry-After` seconds',
    ['TOO_MANY_FOLLOWERS', 'TOO_MANY_REQUESTS'],
    retryAfter,
  ),
  CommandCannotRun: problem(
    422,
    "`COMMAND_NOT_FOUND`: the job's command is not a program on the PATH it was looked up in " +
      '(`command not found: echo hello world (PATH=...)`: `command` is a program, `args` its ' +
      'arguments, never a shell line); `COMMAND_CANNOT_RUN`: it was found but could not be run ' +
      "(permission denied, not executable, a `cwd` that does not exist), in the system's words. " +
      'Nothing is recorded. A queued job, whose answer has begun, ends `failed` with this as its ' +
      '`error` instead',
    ['COMMAND_CANNOT_RUN', 'COMMAND_NOT_FOUND'],
  ),
  InternalError: problem(500, 'the server could not complete the request; its log says why'),
  InsufficientStorage: problem(
    507,
    '`INSUFFICIENT_STORAGE`: the data disk is full, or has less free than the floor the server ' +
      'keeps (the detail says how much is free), so no new job is recorded; running jobs are ' +
      "unaffected. `RECORD_ALLOWANCE_EXCEEDED`: the records of the client's jobs (command lines " +
      "and environment variable names) hold as much as one client's may; deleting ended jobs " +
      "makes room. `OUTPUT_BUDGET_SPENT`: the output the client's ended jobs keep fills its " +
      'output budget (`--client-output`); deleting ended jobs gives it back',
  ),
};
