// The API's contract: an OpenAPI 3.1 document of every route the server answers, served at
// GET /openapi.json. Problem codes come from problem.ts's status table and each operation's roles
// from permissions.ts, so neither can drift from the code; test/api/openapi.test.ts checks the
// routes against the router, and statuses, media types and bodies against a running server.
import type { AuditOutcome } from '../audit/audit-record.ts';
import { ROLES } from '../pki/roles.ts';
import { ENDED_STATUSES, type JobStatus, type LimitKind } from '../jobs/job.ts';
import { LABEL_KEY, LABEL_VALUE, MAX_LABELS } from '../jobs/labels.ts';
import { z } from 'zod';
import { jobRequestSchema } from './job-request.ts';
import { LIST_PAGE } from './jobs-routes.ts';
import { MAX_BODY_BYTES } from './json-body.ts';
import { may, type Action } from './permissions.ts';
import { STATUS_OF } from './problem.ts';

/** A JSON Schema (draft 2020-12), the dialect of OpenAPI 3.1. */
export type JsonSchema = { readonly [keyword: string]: unknown };

// A type, not an interface, so that a reference is also a JsonSchema.
export type Reference = { readonly $ref: string };

export interface MediaType {
  /** Absent for raw bytes: OpenAPI 3.1 describes an octet stream by its media type alone. */
  readonly schema?: JsonSchema;
  readonly example?: unknown;
}

export interface Header {
  readonly description: string;
  readonly required?: boolean;
  readonly schema: JsonSchema;
}

export interface ResponseObject {
  readonly description: string;
  readonly headers?: Readonly<Record<string, Header | Reference>>;
  readonly content?: Readonly<Record<string, MediaType>>;
  /** HTTP trailers, which OpenAPI has no field for: they follow the body of a streamed response. */
  readonly 'x-trailers'?: Readonly<Record<string, Header>>;
}

export interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required?: boolean;
  /** For an array in the query: one `name=value` per item. */
  readonly explode?: boolean;
  readonly description: string;
  readonly schema: JsonSchema;
}

export interface RequestBody {
  readonly description: string;
  readonly required: boolean;
  readonly content: Readonly<Record<string, MediaType>>;
}

export interface Operation {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tags: readonly string[];
  /** The roles that may call the operation; every other role is answered 403 FORBIDDEN. */
  readonly 'x-roles': readonly string[];
  readonly parameters?: readonly (Parameter | Reference)[];
  readonly requestBody?: RequestBody;
  readonly responses: Readonly<Record<string, ResponseObject | Reference>>;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export type PathItem = Partial<Record<HttpMethod, Operation>>;

export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: {
    readonly title: string;
    readonly version: string;
    readonly description: string;
    readonly license: { readonly name: string; readonly identifier: string };
  };
  readonly servers: readonly {
    readonly url: string;
    readonly description: string;
    readonly 'x-internal': boolean;
  }[];
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
  readonly tags: readonly { readonly name: string; readonly description: string }[];
  readonly paths: Readonly<Record<string, PathItem>>;
  readonly components: {
    readonly securitySchemes: Readonly<Record<string, { type: string; description: string }>>;
    readonly schemas: Readonly<Record<string, JsonSchema>>;
    readonly parameters: Readonly<Record<string, Parameter>>;
    readonly headers: Readonly<Record<string, Header>>;
    readonly responses: Readonly<Record<string, ResponseObject>>;
  };
}

function codesWithStatus(status: number): string[] {
  return Object.entries(STATUS_OF)
    .filter(([, codeStatus]) => codeStatus === status)
    .map(([code]) => code)
    .sort();
}

function ref(kind: keyof OpenApiDocument['components'], name: string): Reference {
  return { $ref: `#/components/${kind}/${name}` };
}

function nullable(schema: JsonSchema): JsonSchema {
  return { anyOf: [schema, { type: 'null' }] };
}

// ---- Schemas -------------------------------------------------------------------------------

// Records keyed by the union types make these lists exhaustive: a new status fails to compile
// until it is described here.
const JOB_STATUSES: Readonly<Record<JobStatus, string>> = {
  queued:
    "accepted and waiting: its client runs its most jobs, or the host has not the memory it reserves; `queuePosition` is its place in its client's queue",
  starting: 'accepted; its supervisor is starting it',
  running: 'running',
  stopping: 'a stop was requested; SIGKILL follows the grace period',
  exited: 'ended by itself: `exitCode`, or `signal` when a signal the worker did not send ended it',
  stopped: 'ended by a stop request; `signal` is the signal that ended it',
  timedout: 'its wall-clock limit passed',
  failed: 'could not start; `error` says why',
  lost: 'its supervisor vanished; `error` says so',
};

const AUDIT_OUTCOMES: Readonly<Record<AuditOutcome, string>> = {
  allowed: 'the action was done (status below 400)',
  denied: 'authentication or authorization refused it (401 or 403)',
  failed: 'it was allowed but did not succeed (any other status from 400 on)',
};

const dateTime: JsonSchema = { type: 'string', format: 'date-time', maxLength: 64 };

/**
 * The request body's schema is the zod schema that validates it (job-request.ts), converted: the
 * document cannot accept what the server refuses, or refuse what it accepts.
 */
function fromZod(schema: z.ZodType): JsonSchema {
  const converted = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' });
  // The document as a whole says which dialect its schemas are in.
  delete converted.$schema;
  return converted;
}

const JOB_REQUEST = fromZod(jobRequestSchema);

const RESOURCE_LIMITS: JsonSchema = {
  type: 'object',
  description: 'the limits in force; an absent one is not limited',
  properties: {
    cpus: { type: 'number' },
    memoryBytes: { type: 'integer' },
    pids: { type: 'integer' },
    ioReadBytesPerSecond: { type: 'integer' },
    ioWriteBytesPerSecond: { type: 'integer' },
  },
};

const JOB: JsonSchema = {
  type: 'object',
  required: [
    'id',
    'owner',
    'command',
    'args',
    'envNames',
    'cwd',
    'limits',
    'timeoutMs',
    'sandbox',
    'image',
    'labels',
    'status',
    'exitCode',
    'signal',
    'error',
    'oomKilled',
    'usage',
    'outputBytes',
    'outputTruncated',
    'outputCapBytes',
    'queueTimeoutMs',
    'queuePosition',
    'stdin',
    'createdAt',
    'startedAt',
    'stopRequestedAt',
    'endedAt',
  ],
  properties: {
    id: { type: 'string', format: 'uuid' },
    owner: { type: 'string', description: 'the name of the client that started it' },
    command: { type: 'string' },
    args: { type: 'array', items: { type: 'string' } },
    envNames: {
      type: 'array',
      items: { type: 'string' },
      description: 'names only: values may be secrets and are never stored or shown',
    },
    cwd: { type: 'string' },
    limits: ref('schemas', 'ResourceLimits'),
    timeoutMs: { type: ['integer', 'null'] },
    sandbox: {
      enum: ['private', 'host'],
      description: "the filesystem the job saw: its own sandbox, or the host's",
    },
    image: { type: ['string', 'null'], description: 'the image it ran in, if any' },
    labels: ref('schemas', 'Labels'),
    status: ref('schemas', 'JobStatus'),
    exitCode: { type: ['integer', 'null'] },
    signal: { type: ['string', 'null'], description: 'e.g. SIGKILL' },
    error: { type: ['string', 'null'] },
    oomKilled: { type: 'boolean' },
    usage: nullable(ref('schemas', 'ResourceUsage')),
    outputBytes: { type: 'integer', minimum: 0 },
    outputTruncated: {
      type: 'boolean',
      description: 'output beyond `outputCapBytes` was dropped',
    },
    queueTimeoutMs: { type: ['integer', 'null'], minimum: 1 },
    stdin: {
      type: 'boolean',
      description: 'its standard input is a stream its owner writes to (`PUT /v1/jobs/{id}/stdin`)',
    },
    queuePosition: {
      type: ['integer', 'null'],
      minimum: 1,
      description:
        "while `queued`: its place in its own client's queue (1 starts first); null otherwise",
    },
    outputCapBytes: {
      type: ['integer', 'null'],
      minimum: 0,
      description:
        "the most output kept for this job: the server's per-job cap, or less when the client's output budget had less left when it started (0: the budget was spent); null for no cap",
    },
    createdAt: dateTime,
    startedAt: nullable(dateTime),
    stopRequestedAt: nullable(dateTime),
    endedAt: nullable(dateTime),
  },
};

const PROBLEM: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem details, with a stable `code` to match on',
  required: ['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId'],
  properties: {
    type: { type: 'string', format: 'uri', description: '`urn:jobworker:problem:` and the code' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'written for the client; never a stack trace' },
    instance: { type: 'string', description: 'the request path' },
    code: { type: 'string', enum: Object.keys(STATUS_OF).sort() },
    requestId: {
      type: 'string',
      format: 'uuid',
      description: 'as in X-Request-Id and the server log',
    },
    errors: {
      type: 'array',
      description: 'each invalid field or query parameter',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: {
          field: { type: 'string', examples: ['args.1', 'limits.memory', '?status', '(body)'] },
          message: { type: 'string' },
        },
      },
    },
  },
};

const AUDIT_RECORD: JsonSchema = {
  type: 'object',
  required: [
    'seq',
    'time',
    'prev',
    'action',
    'outcome',
    'status',
    'client',
    'jobId',
    'details',
    'jws',
  ],
  properties: {
    seq: { type: 'integer', minimum: 1 },
    time: dateTime,
    prev: {
      type: ['string', 'null'],
      description: "base64url SHA-256 of the previous record's JWS; null for the first record",
    },
    action: {
      type: 'string',
      examples: [
        'job.start',
        'job.stop',
        'job.output',
        'job.input',
        'job.delete',
        'job.dequeue',
        'job.queue_timeout',
        'auth.denied',
        'tls.refused',
      ],
      description:
        "`job.dequeue` and `job.queue_timeout` are the server's own: a queued job started, or waited too long; their `status` is null",
    },
    outcome: {
      type: 'string',
      enum: Object.keys(AUDIT_OUTCOMES),
      description: describeValues(AUDIT_OUTCOMES),
    },
    status: {
      type: ['integer', 'null'],
      description: 'the HTTP status the client got; null for what no request caused',
    },
    client: {
      type: 'object',
      required: ['name', 'role', 'serial', 'fingerprint256'],
      properties: {
        name: { type: ['string', 'null'] },
        role: { type: ['string', 'null'] },
        serial: { type: ['string', 'null'], description: "the certificate's serial number" },
        fingerprint256: { type: ['string', 'null'] },
      },
    },
    jobId: { type: ['string', 'null'] },
    details: { type: 'object', description: 'depends on the action; never environment values' },
    jws: {
      type: 'string',
      description: 'the record as a compact JWS (EdDSA), verifiable with /.well-known/jwks.json',
    },
  },
};

const HEALTH: JsonSchema = {
  type: 'object',
  required: ['status', 'client', 'protections'],
  properties: {
    status: { const: 'ok' },
    client: {
      type: 'object',
      description: 'who the server takes the caller to be',
      required: ['name', 'role'],
      properties: { name: { type: 'string' }, role: { enum: [...ROLES] } },
    },
    protections: {
      type: 'object',
      required: [
        'cgroups',
        'enforceableLimits',
        'pidNamespace',
        'networkNamespace',
        'mountNamespace',
        'jobUser',
        'sandbox',
      ],
      properties: {
        cgroups: { enum: ['v1', 'v2', 'none'] },
        enforceableLimits: {
          type: 'array',
          items: { enum: ['cpu', 'memory', 'pids', 'io'] satisfies LimitKind[] },
        },
        pidNamespace: { type: 'boolean' },
        networkNamespace: { type: 'boolean' },
        mountNamespace: { type: 'boolean' },
        jobUser: {
          type: 'string',
          description: "the account of jobs on the host's filesystem",
        },
        sandbox: {
          type: 'object',
          description: 'the per-job sandbox; a feature this host cannot give is false',
          required: [
            'privateRoot',
            'uidPerClient',
            'uidRange',
            'seccomp',
            'binds',
            'hostFilesystemRoles',
          ],
          properties: {
            privateRoot: { type: 'boolean' },
            uidPerClient: { type: 'boolean' },
            uidRange: nullable({
              type: 'object',
              required: ['first', 'last'],
              properties: { first: { type: 'integer' }, last: { type: 'integer' } },
            }),
            seccomp: { type: 'boolean' },
            binds: {
              type: 'array',
              items: { type: 'string' },
              description: 'host paths a sandboxed job sees: `PATH` read-only, `PATH:rw`',
            },
            hostFilesystemRoles: { type: 'array', items: { enum: [...ROLES] } },
          },
        },
      },
    },
    capacity: {
      type: 'object',
      description:
        'admins only: the memory all jobs together get (the host less its reserve), how much running jobs reserve (each its memory limit), and how many jobs wait',
      required: ['memoryBytes', 'reservedMemoryBytes', 'queued'],
      properties: {
        memoryBytes: { type: ['integer', 'null'], minimum: 0 },
        reservedMemoryBytes: { type: 'integer', minimum: 0 },
        queued: { type: 'integer', minimum: 0 },
      },
    },
  },
};

const JWKS: JsonSchema = {
  type: 'object',
  required: ['keys'],
  properties: {
    keys: {
      type: 'array',
      items: {
        type: 'object',
        required: ['kty', 'crv', 'x', 'kid', 'alg', 'use'],
        properties: {
          kty: { const: 'OKP' },
          crv: { const: 'Ed25519' },
          x: { type: 'string' },
          kid: { type: 'string', description: 'the RFC 7638 thumbprint; JWS headers name it' },
          alg: { const: 'EdDSA' },
          use: { const: 'sig' },
        },
      },
    },
  },
};

const SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  JobRequest: JOB_REQUEST,
  Job: JOB,
  JobStatus: {
    type: 'string',
    enum: Object.keys(JOB_STATUSES),
    description: describeValues(JOB_STATUSES),
  },
  ResourceLimits: RESOURCE_LIMITS,
  ResourceUsage: {
    type: 'object',
    required: ['cpuMs', 'peakMemoryBytes'],
    properties: { cpuMs: { type: 'number' }, peakMemoryBytes: { type: 'integer' } },
  },
  Labels: {
    type: 'object',
    description:
      "the client's own names for a job, to find it again (`?label=key=value`): Kubernetes' rules for label keys and values",
    maxProperties: MAX_LABELS,
    propertyNames: {
      type: 'string',
      maxLength: 317,
      pattern: LABEL_KEY.source,
    },
    additionalProperties: {
      type: 'string',
      maxLength: 63,
      pattern: LABEL_VALUE.source,
    },
    default: {},
    examples: [{ pipeline: '4711', stage: 'test' }],
  },
  JobList: {
    type: 'object',
    required: ['jobs'],
    properties: { jobs: { type: 'array', items: ref('schemas', 'Job') } },
  },
  Problem: PROBLEM,
  AuditRecord: AUDIT_RECORD,
  AuditRecordList: {
    type: 'object',
    required: ['records'],
    properties: { records: { type: 'array', items: ref('schemas', 'AuditRecord') } },
  },
  Health: HEALTH,
  JsonWebKeySet: JWKS,
};

function describeValues(values: Readonly<Record<string, string>>): string {
  return Object.entries(values)
    .map(([value, meaning]) => `- \`${value}\`: ${meaning}`)
    .join('\n');
}

// ---- Parameters and headers ----------------------------------------------------------------

const flag: JsonSchema = { type: 'string', enum: ['true', 'false', '1', '0'], default: 'false' };

const PARAMETERS: Readonly<Record<string, Parameter>> = {
  JobId: {
    name: 'id',
    in: 'path',
    required: true,
    description: "the job's id; any value that is not a job's id answers 404",
    schema: { type: 'string', format: 'uuid', maxLength: 36 },
  },
};

function query(name: string, description: string, schema: JsonSchema): Parameter {
  return { name, in: 'query', required: false, description, schema };
}

const HEADERS: Readonly<Record<string, Header>> = {
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

const requestId = {
  'X-Request-Id': ref('headers', 'RequestId'),
  'RateLimit-Policy': ref('headers', 'RateLimitPolicy'),
  RateLimit: ref('headers', 'RateLimit'),
};
const retryAfter = { 'Retry-After': ref('headers', 'RetryAfter') };

// ---- Responses ------------------------------------------------------------------------------

const json = (schema: JsonSchema): Readonly<Record<string, MediaType>> => ({
  'application/json': { schema },
});

function success(
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
function problem(
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

const RESPONSES: Readonly<Record<string, ResponseObject>> = {
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
      "the host's filesystem; `CROSS_SITE_REQUEST`: a browser sent a state-changing request " +
      "from another site's page (Sec-Fetch-Site or Origin)",
  ),
  ClientDisabled: problem(403, "the server's identity policy disables the client", [
    'CLIENT_DISABLED',
  ]),
  JobNotFound: problem(404, "no such job, or another client's job: the two answers are identical", [
    'JOB_NOT_FOUND',
  ]),
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
      '`?queue=false`): it already runs as many jobs as one client may, or the host has not the ' +
      'memory the job reserves; `QUEUE_FULL`: it already has as many jobs queued as one client ' +
      'may; `TOO_MANY_FOLLOWERS` (with `?follow=true`): it already holds as many output streams ' +
      'open as one client may. Try again after `Retry-After` seconds',
    ['QUEUE_FULL', 'TOO_MANY_FOLLOWERS', 'TOO_MANY_JOBS', 'TOO_MANY_REQUESTS'],
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
  InternalError: problem(500, 'the server could not complete the request; its log says why'),
  InsufficientStorage: problem(
    507,
    'the data disk is full, so no new job can be recorded; running jobs are unaffected',
  ),
};

/**
 * Answers any operation can give: authentication, routing, throttling and server faults. An
 * operation's own entry for one of these statuses (a narrower 429, say) is kept.
 */
function withCommonResponses(
  own: Readonly<Record<number, ResponseObject | Reference>>,
  everyRoleMay: boolean,
): Record<string, ResponseObject | Reference> {
  const all: Record<number, ResponseObject | Reference> = {
    // Framing and timing problems, answered before any route is known.
    400: ref('responses', 'MalformedRequest'),
    408: ref('responses', 'RequestTimeout'),
    417: ref('responses', 'ExpectationFailed'),
    431: ref('responses', 'HeadersTooLarge'),
    401: ref('responses', 'Unauthenticated'),
    403: ref('responses', everyRoleMay ? 'ClientDisabled' : 'Forbidden'),
    405: ref('responses', 'MethodNotAllowed'),
    429: ref('responses', 'TooManyRequests'),
    500: ref('responses', 'InternalError'),
    ...own,
  };
  return Object.fromEntries(
    Object.entries(all).sort(([left], [right]) => Number(left) - Number(right)),
  );
}

// ---- Operations -----------------------------------------------------------------------------

interface OperationSpec {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: 'jobs' | 'audit' | 'service';
  /** The permission the route checks; undefined for routes every authenticated client may use. */
  readonly action?: Action;
  readonly parameters?: readonly (Parameter | Reference)[];
  readonly requestBody?: RequestBody;
  readonly responses: Readonly<Record<number, ResponseObject | Reference>>;
}

function operation(spec: OperationSpec): Operation {
  const { action } = spec;
  const roles = ROLES.filter((role) => action === undefined || may(role, action));
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: `${spec.description}\n\nRoles: ${roles.join(', ')}.`,
    tags: [spec.tag],
    'x-roles': roles,
    ...(spec.parameters === undefined ? {} : { parameters: spec.parameters }),
    ...(spec.requestBody === undefined ? {} : { requestBody: spec.requestBody }),
    responses: withCommonResponses(spec.responses, roles.length === ROLES.length),
  };
}

const jobLocation: Header = {
  description: 'the new job: `/v1/jobs/{id}`',
  required: true,
  schema: { type: 'string', pattern: '^/v1/jobs/[0-9a-f-]{36}$' },
};

const noStore: Header = { description: 'output is never cached', schema: { const: 'no-store' } };

const START_JOB = operation({
  operationId: 'startJob',
  summary: 'Start a job',
  description:
    'Runs a command (an argv array, never a shell line) under its own supervisor, cgroup and ' +
    "namespaces. With `?follow=true` the response is the job's output, streamed until the job " +
    'ends, like `ssh host cmd`; its final status, exit code and signal follow as HTTP trailers.',
  tag: 'jobs',
  action: 'start',
  parameters: [
    query(
      'follow',
      "stream the job's output (stdout and stderr as written) in this response until it ends",
      flag,
    ),
    query(
      'queue',
      'when the job cannot start now (its client runs its most jobs, or the host has not the memory it reserves): `true` (the default) queues it, `false` answers 429 `TOO_MANY_JOBS`',
      flag,
    ),
  ],
  requestBody: {
    description: 'what to run; only `command` is required',
    required: true,
    content: {
      'application/json': {
        schema: ref('schemas', 'JobRequest'),
        example: {
          command: 'make',
          args: ['-j2', 'test'],
          env: { CI: 'true' },
          cwd: '/tmp',
          limits: { cpus: 0.5, memory: '256M', pids: 128 },
          timeout: '10m',
        },
      },
    },
  },
  responses: {
    201: {
      description:
        'the job was started: its record, or with `?follow=true` its output until it ends, ' +
        'followed by the trailers `Job-Status`, `Job-Exit-Code` and `Job-Signal`',
      headers: {
        ...requestId,
        Location: jobLocation,
        'Job-Id': {
          description: "with `?follow=true`: the job's id, since the body is its output",
          schema: { type: 'string', format: 'uuid' },
        },
        Trailer: {
          description: 'with `?follow=true`: the trailers that follow the output',
          schema: { const: 'Job-Status, Job-Exit-Code, Job-Signal' },
        },
        'Cache-Control': noStore,
      },
      content: {
        'application/json': { schema: ref('schemas', 'Job') },
        'application/octet-stream': {},
      },
      'x-trailers': {
        'Job-Status': {
          description: 'how the job ended',
          required: true,
          schema: { enum: [...ENDED_STATUSES] },
        },
        'Job-Exit-Code': {
          description: 'its exit code; empty when it has none',
          required: true,
          schema: { type: 'string', pattern: '^(0|[1-9][0-9]*)?$' },
        },
        'Job-Signal': {
          description: 'the signal that ended it, e.g. SIGKILL; empty when none did',
          required: true,
          schema: { type: 'string', pattern: '^(SIG[A-Z0-9+-]+)?$' },
        },
      },
    },
    400: ref('responses', 'InvalidJobRequest'),
    413: ref('responses', 'PayloadTooLarge'),
    415: ref('responses', 'UnsupportedMediaType'),
    429: ref('responses', 'TooManyRequestsOrJobs'),
    507: ref('responses', 'InsufficientStorage'),
  },
});

const STATUS_NAMES = Object.keys(JOB_STATUSES).join('|');

const LIST_JOBS = operation({
  operationId: 'listJobs',
  summary: 'List jobs',
  description:
    "The jobs the caller may see, newest first: its own, or every client's for admins and " +
    "auditors. A user never learns that another client's job exists. One page at a time: " +
    'when there are more, the `Link` header (RFC 8288) names the next page, whose opaque ' +
    '`cursor` is valid only for this client and these filters. Paging while jobs are added ' +
    'and deleted returns every job that existed throughout exactly once.',
  tag: 'jobs',
  action: 'read',
  parameters: [
    query('status', 'only jobs with one of these statuses (comma-separated)', {
      type: 'string',
      maxLength: 256,
      pattern: `^(${STATUS_NAMES})(,(${STATUS_NAMES}))*$`,
      examples: ['running', 'exited,failed'],
    }),
    query('since', 'only jobs created at this time or later', dateTime),
    query('until', 'only jobs created before this time', dateTime),
    {
      ...query('label', 'only jobs with this label (`key=value`); several are all required', {
        type: 'array',
        maxItems: MAX_LABELS,
        items: { type: 'string', maxLength: 512, pattern: '^[^=]+=.*$' },
      }),
      explode: true,
    },
    query('idPrefix', 'only jobs whose id starts so (how `jobctl` resolves short ids)', {
      type: 'string',
      maxLength: 36,
      pattern: '^[0-9a-f-]{1,36}$',
    }),
    query('limit', 'at most this many jobs', {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: LIST_PAGE.max,
      default: LIST_PAGE.default,
    }),
    query('cursor', 'where to go on: from the `Link` of the previous page', {
      type: 'string',
      maxLength: 128,
    }),
  ],
  responses: {
    200: success('the jobs', json(ref('schemas', 'JobList')), {
      Link: {
        description: 'when there are more jobs: `<URL of the next page>; rel="next"`',
        schema: { type: 'string', pattern: '^<[^>]+>; rel="next"$' },
      },
    }),
    400: ref('responses', 'InvalidQuery'),
  },
});

const GET_JOB = operation({
  operationId: 'getJob',
  summary: 'Get a job',
  description: 'One job the caller may see.',
  tag: 'jobs',
  action: 'read',
  parameters: [ref('parameters', 'JobId')],
  responses: {
    200: success('the job', json(ref('schemas', 'Job'))),
    404: ref('responses', 'JobNotFound'),
  },
});

const STOP_JOB = operation({
  operationId: 'stopJob',
  summary: 'Stop a job',
  description:
    'SIGTERM to the whole process tree, SIGKILL after the grace period. Idempotent while the ' +
    'job is stopping. Users may stop their own jobs only.',
  tag: 'jobs',
  action: 'stop',
  parameters: [ref('parameters', 'JobId')],
  responses: {
    202: success(
      'the stop is under way: the job, `stopping` or already ended by it',
      json(ref('schemas', 'Job')),
    ),
    404: ref('responses', 'JobNotFound'),
    409: ref('responses', 'JobAlreadyEnded'),
  },
});

const WRITE_JOB_INPUT = operation({
  operationId: 'writeJobInput',
  summary: "Write to a job's input",
  description:
    'Streams the request body into the standard input of a job started with `"stdin": true` ' +
    '(`curl -T - .../stdin` pipes a file or a command into it). The body is read as fast as the ' +
    "job reads, for as long as it takes; its end is the end of the job's input (EOF), after " +
    'which no more input is taken. A writer that goes away before the end of its body leaves ' +
    'the input open for the next; one writer at a time. A queued job is waited for. Only the ' +
    "job's owner may write to it; input is never logged or kept, the audit trail records that " +
    'it was sent, by whom and how many bytes.',
  tag: 'jobs',
  action: 'input',
  parameters: [ref('parameters', 'JobId')],
  requestBody: {
    required: true,
    description: "the bytes for the job's standard input, of any length and any media type",
    content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
  },
  responses: {
    204: success("the whole body was written and the job's input has ended"),
    404: ref('responses', 'JobNotFound'),
    409: problem(
      409,
      '`JOB_ALREADY_ENDED`: the job has ended; `INPUT_NOT_OPEN`: it was not started with ' +
        '`"stdin": true`; `INPUT_CLOSED`: a writer ended its input, or it no longer reads it ' +
        '(exited, or closed it); `INPUT_BUSY`: another request is writing to it. The connection ' +
        'is closed after this answer: the rest of the body is not read',
      ['INPUT_BUSY', 'INPUT_CLOSED', 'INPUT_NOT_OPEN', 'JOB_ALREADY_ENDED'],
    ),
  },
});

const DELETE_JOB = operation({
  operationId: 'deleteJob',
  summary: 'Delete a job',
  description: 'Deletes an ended job and its output. Users may delete their own jobs only.',
  tag: 'jobs',
  action: 'delete',
  parameters: [ref('parameters', 'JobId')],
  responses: {
    204: success('the job and its output are gone'),
    404: ref('responses', 'JobNotFound'),
    409: ref('responses', 'JobStillRunning'),
  },
});

const GET_JOB_OUTPUT = operation({
  operationId: 'getJobOutput',
  summary: "Read a job's output",
  description:
    'The output recorded so far, from its first byte (or `offset`). With `?follow=true` the ' +
    'response stays open and streams new output until the job ends; any number of readers may ' +
    'follow the same job.',
  tag: 'jobs',
  action: 'read',
  parameters: [
    ref('parameters', 'JobId'),
    query('follow', 'keep streaming until the job ends', flag),
    query('stream', 'which output: stdout, stderr, or both as written', {
      type: 'string',
      enum: ['stdout', 'stderr', 'all'],
      default: 'all',
    }),
    query('offset', 'skip this many bytes of the selected output', {
      type: 'integer',
      format: 'int64',
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      default: 0,
    }),
  ],
  responses: {
    200: success(
      'the output bytes',
      { 'application/octet-stream': {} },
      { 'Cache-Control': noStore },
    ),
    400: ref('responses', 'InvalidQuery'),
    404: ref('responses', 'JobNotFound'),
    410: ref('responses', 'OutputUnavailable'),
    429: ref('responses', 'TooManyRequestsOrFollowers'),
  },
});

const GET_HEALTH = operation({
  operationId: 'getHealth',
  summary: 'Health and protections',
  description:
    "Liveness, the caller's identity as the server sees it, and the protections this host " +
    'gives jobs (cgroups, enforceable limits, namespaces, the account jobs run as).',
  tag: 'service',
  responses: { 200: success('the server is up', json(ref('schemas', 'Health'))) },
});

const LIST_AUDIT_RECORDS = operation({
  operationId: 'listAuditRecords',
  summary: 'Read the audit trail',
  description:
    'Signed, hash-chained records of every job action and every refused client, newest first: ' +
    'the last `limit` records that match every filter given.',
  tag: 'audit',
  action: 'audit',
  parameters: [
    query('client', "only this client's records", { type: 'string', maxLength: 64 }),
    query('job', "only this job's records", { type: 'string', format: 'uuid', maxLength: 36 }),
    query('since', 'only records from this time on', dateTime),
    query('until', 'only records up to this time', dateTime),
    query('limit', 'at most this many records', {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: 1000,
      default: 100,
    }),
  ],
  responses: {
    200: success('the matching records', json(ref('schemas', 'AuditRecordList'))),
    400: ref('responses', 'InvalidQuery'),
  },
});

const GET_JWKS = operation({
  operationId: 'getJwks',
  summary: "The audit trail's public keys",
  description: 'The Ed25519 keys that verify audit records (their `jws`) offline.',
  tag: 'audit',
  responses: { 200: success('the key set', json(ref('schemas', 'JsonWebKeySet'))) },
});

const GET_METRICS = operation({
  operationId: 'getMetrics',
  summary: 'Prometheus metrics',
  description:
    'Requests, jobs by status, output served and readers open, in the Prometheus text format. ' +
    'Scrapers authenticate with a client certificate like any other client.',
  tag: 'service',
  action: 'metrics',
  responses: {
    200: success('the exposition', {
      'text/plain; version=0.0.4': { schema: { type: 'string' } },
    }),
  },
});

const GET_OPENAPI = operation({
  operationId: 'getOpenApi',
  summary: 'This document',
  description: "The API's OpenAPI 3.1 contract.",
  tag: 'service',
  responses: {
    200: success(
      'the document',
      json({
        type: 'object',
        required: ['openapi', 'info', 'paths'],
        properties: {
          openapi: { type: 'string', pattern: '^3\\.1\\.' },
          info: { type: 'object' },
          paths: { type: 'object' },
        },
        // The document describes itself only in outline; the rest is open.
        additionalProperties: true,
      }),
    ),
  },
});

// ---- The document ---------------------------------------------------------------------------

const DESCRIPTION = `Run Linux commands on a host over HTTPS, stop them, and read or follow their output.

**Authentication** is mutual TLS: every client presents a certificate from the server's CA, whose
\`CN\` is the client's name and \`OU\` its role (\`admin\`, \`user\` or \`auditor\`). Refused
certificates never reach HTTP: the connection is closed after the handshake. Each operation lists
the roles that may call it (\`x-roles\`); every other role is answered \`403 FORBIDDEN\`.

**Errors** are \`application/problem+json\` (RFC 9457) with a stable \`code\`. Besides the
responses each operation lists, any path answers \`404 NOT_FOUND\` when it is not one of these, and
every path answers \`405 METHOD_NOT_ALLOWED\` to a method it does not list. Every path answers
\`OPTIONS\` with \`200\` and its methods in \`Allow\`, and \`HEAD\` wherever it answers \`GET\`.
Every response carries \`X-Request-Id\`.`;

export const OPENAPI_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.1',
  info: {
    title: 'jobworker',
    version: 'v1',
    description: DESCRIPTION,
    license: { name: 'MIT', identifier: 'MIT' },
  },
  servers: [
    {
      url: 'https://localhost:8443',
      description: 'a local development server on its default address',
      // Clients of this API are operators' own machines and CI systems, never the public.
      'x-internal': true,
    },
  ],
  security: [{ clientCertificate: [] }],
  tags: [
    { name: 'jobs', description: 'start, inspect, follow, stop and delete jobs' },
    { name: 'audit', description: 'the signed audit trail and the keys that verify it' },
    { name: 'service', description: 'health, metrics and this document' },
  ],
  paths: {
    '/v1/jobs': { post: START_JOB, get: LIST_JOBS },
    '/v1/jobs/{id}': { get: GET_JOB, delete: DELETE_JOB },
    '/v1/jobs/{id}/stop': { post: STOP_JOB },
    '/v1/jobs/{id}/output': { get: GET_JOB_OUTPUT },
    '/v1/jobs/{id}/stdin': { put: WRITE_JOB_INPUT },
    '/v1/audit': { get: LIST_AUDIT_RECORDS },
    '/.well-known/jwks.json': { get: GET_JWKS },
    '/healthz': { get: GET_HEALTH },
    '/metrics': { get: GET_METRICS },
    '/openapi.json': { get: GET_OPENAPI },
  },
  components: {
    securitySchemes: {
      clientCertificate: {
        type: 'mutualTLS',
        description: "a client certificate issued by the server's CA; CN is the name, OU the role",
      },
    },
    schemas: SCHEMAS,
    parameters: PARAMETERS,
    headers: HEADERS,
    responses: RESPONSES,
  },
};
