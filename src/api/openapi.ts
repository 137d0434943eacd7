// The API's contract: an OpenAPI 3.1 document of every route the server answers, served at
// GET /openapi.json. Its schemas and query parameters are generated (z.toJSONSchema) from the zod
// schemas that validate requests and from which the code's wire types are inferred (src/contract/
// and the job vocabulary in src/jobs/); this file adds the operations' prose. Problem codes come
// from the contract's status table and each operation's roles from permissions.ts, so nothing
// here can drift from the code; test/api/openapi.test.ts checks the routes against the router,
// and statuses, media types and bodies against a running server.
import { z } from 'zod';
import {
  auditQuery,
  auditRecordListSchema,
  auditVerdictSchema,
  jsonWebKeySetSchema,
  signedAuditRecordSchema,
} from '../contract/audit.ts';
import { healthSchema } from '../contract/health.ts';
import { jobRequestSchema } from '../contract/job-request.ts';
import { imageListSchema, imageSchema } from '../contract/images.ts';
import { limitsSchema } from '../contract/limits.ts';
import { ATTACH_PROTOCOL } from '../contract/attach-channels.ts';
import { JOB_TRAILERS, TRAILER_HEADER } from '../contract/job-trailers.ts';
import { MULTIPLEXED_STREAM } from '../contract/multiplexed-stream.ts';
import {
  attachQuery,
  jobListSchema,
  LISTED_ARGS_CHARACTERS,
  listedJobSchema,
  listQuery,
  outputQuery,
  startQuery,
} from '../contract/jobs.ts';
import { problemSchema, STATUS_OF } from '../contract/problem.ts';
import {
  jobSchema,
  jobStatusSchema,
  resourceLimitsSchema,
  resourceUsageSchema,
} from '../jobs/job.ts';
import { ENDED_STATUSES } from '../jobs/job-status.ts';
import { labelsSchema } from '../jobs/labels.ts';
import { ROLES } from '../pki/roles.ts';
import { BYTES_PER_REQUEST } from './jobs/job-listing.ts';
import { MAX_BODY_BYTES } from './http/json-body.ts';
import { may, type Action } from './permissions.ts';

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

// ---- Schemas -------------------------------------------------------------------------------

type OverrideContext = Parameters<NonNullable<z.core.ToJSONSchemaParams['override']>>[0];

/** What every generated schema leaves out. */
function documented({ jsonSchema, zodSchema }: OverrideContext): void {
  // `.readonly()` is for TypeScript; in OpenAPI `readOnly` would mean "never in a request".
  delete jsonSchema.readOnly;
  // zod spells out a string format (uuid, date-time) as its own regular expression as well: the
  // format says it, and ajv and the linters know the formats.
  const { pattern } = zodSchema._zod.def as { pattern?: unknown };
  if (pattern instanceof RegExp && jsonSchema.pattern === pattern.source) delete jsonSchema.pattern;
}

/** Also what the schemas of answers leave out. */
function documentedAnswer(context: OverrideContext): void {
  documented(context);
  const { jsonSchema, zodSchema } = context;
  // The published document leaves answers open to new fields (a client ignores what it does not
  // know); the contract test seals them (test/helpers/contract-validator.ts).
  if (zodSchema._zod.def.type === 'object' && jsonSchema.additionalProperties === false) {
    delete jsonSchema.additionalProperties;
  }
  // zod bounds every integer to the safe ones; every number the server writes is one.
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
}

/** A generated schema without the header of a standalone one: the document names the dialect. */
function component(schema: JsonSchema): JsonSchema {
  return Object.fromEntries(
    Object.entries(schema).filter(([keyword]) => keyword !== '$schema' && keyword !== '$id'),
  );
}

/**
 * The request body's schema is the zod schema that validates it, converted: the document cannot
 * accept what the server refuses, or refuse what it accepts.
 */
function fromZod(schema: z.ZodType): JsonSchema {
  return component(
    z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', override: documented }),
  );
}

/** The answers' components: the zod schemas the code's wire types are inferred from. */
const ANSWERS: Readonly<Record<string, z.ZodType>> = {
  Job: jobSchema,
  JobStatus: jobStatusSchema,
  ResourceLimits: resourceLimitsSchema,
  ResourceUsage: resourceUsageSchema,
  Labels: labelsSchema,
  JobList: jobListSchema,
  ListedJob: listedJobSchema,
  Problem: problemSchema,
  AuditRecord: signedAuditRecordSchema,
  AuditRecordList: auditRecordListSchema,
  AuditVerdict: auditVerdictSchema,
  Health: healthSchema,
  Limits: limitsSchema,
  Image: imageSchema,
  ImageList: imageListSchema,
  JsonWebKeySet: jsonWebKeySetSchema,
};

/** Converted together, so that a component used in another (a job's status) is a $ref to it. */
function answerComponents(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(ANSWERS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
    override: documentedAnswer,
  });
  // zod puts a schema it cannot write inline (one in a cycle) in `__shared`: a name the document
  // does not have.
  if ('__shared' in schemas) throw new Error('a schema of an answer needs a component of its own');
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, component(schema)]));
}

const SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  JobRequest: fromZod(jobRequestSchema),
  ...answerComponents(),
};

// ---- Parameters and headers ----------------------------------------------------------------

const PARAMETERS: Readonly<Record<string, Parameter>> = {
  JobId: {
    name: 'id',
    in: 'path',
    required: true,
    description: "the job's id; any value that is not a job's id answers 404",
    schema: { type: 'string', format: 'uuid', maxLength: 36 },
  },
};

/** The query parameters a route's zod schema parses, each described by its field's description. */
function queryParameters(query: z.ZodObject): Parameter[] {
  const json = z.toJSONSchema(query, {
    io: 'input',
    target: 'draft-2020-12',
    override: documented,
  });
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    if (typeof property === 'boolean') throw new Error(`?${name} has no schema`);
    const { description, ...schema } = property;
    if (description === undefined) throw new Error(`?${name} has no description`);
    return {
      name,
      in: 'query',
      required: required.has(name),
      description,
      schema,
      // A list is one `name=value` per item, as the query parser reads a repeated name.
      ...(schema.type === 'array' ? { explode: true } : {}),
    };
  });
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

/** When a browser's request is refused for coming from another site (api/middleware/cross-site.ts). */
const CROSS_SITE =
  "a browser sent the request from another site's page (Sec-Fetch-Site or Origin), and it is " +
  'not a navigation to a page of the console';

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
      "the host's filesystem; `CROSS_SITE_REQUEST`: " +
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
    403: ref('responses', everyRoleMay ? 'ClientDisabledOrCrossSite' : 'Forbidden'),
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
  readonly tag: 'jobs' | 'audit' | 'service' | 'console';
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

const varyAccept: Header = {
  description: 'the media type of the output depends on `Accept`',
  schema: { const: 'Accept' },
};

/** How the multiplexed output is framed: the operations' descriptions say it. */
const FRAMES =
  "Docker's frames: an 8-byte header (the stream, 1 stdout or 2 stderr; three zero bytes; the " +
  "payload's length as a big-endian uint32), then the payload, in the order the worker read them " +
  '(each stream in its own order; across the two only with `"stderr": "merged"`, which makes ' +
  'all of it stdout)';

/** Both streams told apart in one body, for a client whose `Accept` prefers it (raw bytes). */
const MULTIPLEXED_OUTPUT: Readonly<Record<string, MediaType>> = { [MULTIPLEXED_STREAM]: {} };

const START_JOB = operation({
  operationId: 'startJob',
  summary: 'Start a job',
  description:
    'Runs a command (an argv array, never a shell line) under its own supervisor, cgroup and ' +
    "namespaces. With `?follow=true` the response is the job's output, streamed until the job " +
    'ends, like `ssh host cmd`; how it ended (status, exit code, signal, out of memory) follows ' +
    'as HTTP trailers. ' +
    'The output is its bytes, or with `Accept: ' +
    MULTIPLEXED_STREAM +
    '` its stdout and stderr told apart, as `jobctl run -f` reads it: ' +
    FRAMES +
    '.',
  tag: 'jobs',
  action: 'start',
  parameters: queryParameters(startQuery),
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
        `followed by the trailers ${Object.values(JOB_TRAILERS)
          .map((name) => `\`${name}\``)
          .join(', ')}`,
      headers: {
        ...requestId,
        Location: jobLocation,
        'Job-Id': {
          description: "with `?follow=true`: the job's id, since the body is its output",
          schema: { type: 'string', format: 'uuid' },
        },
        'Job-Queue-Position': {
          description:
            "with `?follow=true`, for a job that waits to start: its place in its client's queue",
          schema: { type: 'string', pattern: '^[1-9][0-9]*$' },
        },
        Trailer: {
          description: 'with `?follow=true`: the trailers that follow the output',
          schema: { const: TRAILER_HEADER },
        },
        'Cache-Control': noStore,
        Vary: varyAccept,
      },
      content: {
        'application/json': { schema: ref('schemas', 'Job') },
        'application/octet-stream': {},
        ...MULTIPLEXED_OUTPUT,
      },
      'x-trailers': {
        [JOB_TRAILERS.status]: {
          description: 'how the job ended',
          required: true,
          schema: { enum: [...ENDED_STATUSES] },
        },
        [JOB_TRAILERS.exitCode]: {
          description: 'its exit code; empty when it has none',
          required: true,
          schema: { type: 'string', pattern: '^(0|[1-9][0-9]*)?$' },
        },
        [JOB_TRAILERS.signal]: {
          description: 'the signal that ended it, e.g. SIGKILL; empty when none did',
          required: true,
          schema: { type: 'string', pattern: '^(SIG[A-Z0-9+-]+)?$' },
        },
        [JOB_TRAILERS.oomKilled]: {
          description: 'whether the kernel killed a process of the job for want of memory',
          required: true,
          schema: { enum: ['true', 'false'] },
        },
        [JOB_TRAILERS.error]: {
          description:
            "why it ended, when its owner did not end it (the job's `error`: a queued job's command that could not run, a timeout, an OOM kill, a revoked certificate, the disk floor, the output budget); empty otherwise. The same text ends the body's stderr as a line of its own, after `jobworker: `. Characters outside printable ASCII are written `\\u{hex}`",
          required: true,
          schema: { type: 'string' },
        },
      },
    },
    400: ref('responses', 'InvalidJobRequest'),
    413: ref('responses', 'PayloadTooLarge'),
    415: ref('responses', 'UnsupportedMediaType'),
    422: ref('responses', 'CommandCannotRun'),
    429: ref('responses', 'TooManyRequestsOrJobs'),
    507: ref('responses', 'InsufficientStorage'),
  },
});

const LIST_JOBS = operation({
  operationId: 'listJobs',
  summary: 'List jobs',
  description:
    "The jobs the caller may see, newest first: its own, or every client's for admins and " +
    "auditors. A user never learns that another client's job exists. One page at a time: " +
    'when there are more, the `Link` header (RFC 8288) names the next page, whose opaque ' +
    '`cursor` is valid only for this client and these filters. Paging while jobs are added ' +
    'and deleted returns every job that existed throughout exactly once. An entry is the ' +
    "job's record, except that args longer together than " +
    `${LISTED_ARGS_CHARACTERS} characters are cut (\`argsTruncated\`). The answer is sent a ` +
    'few jobs at a time as the client reads it, and costs its request rate one request per ' +
    `${BYTES_PER_REQUEST / 1024} KiB of the records it reads, past the first: while the ` +
    "client's budget is spent, its other requests get 429 and its listings wait to read on.",
  tag: 'jobs',
  action: 'read',
  parameters: queryParameters(listQuery),
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

const ATTACH_JOB = operation({
  operationId: 'attachJob',
  summary: 'Attach to a job (WebSocket)',
  description:
    "A WebSocket (RFC 6455; `Upgrade: websocket`, subprotocol `v5.channel.k8s.io`) carrying the job's " +
    'output, input and terminal size, for interactive use (`jobctl run -it`, `jobctl attach`). ' +
    'Every binary message starts with its channel: `0` client to job, bytes for its input; `1` and ' +
    "`2` job to client, its stdout and stderr, in the order the worker read them (a terminal's " +
    'output is all on `1`); `3` job to ' +
    'client, once it has ended, `{"status", "exitCode", "signal"}` as JSON, after which the ' +
    'socket closes; `4` client to job, `{"Width": cols, "Height": rows}`, a new size of its ' +
    "terminal; `255` followed by `0` client to job, the end of its input (a terminal's EOF " +
    'character). Output flows as fast as the client reads it and input as fast as the job ' +
    'reads it. A client that closes the socket leaves the job running and its input open, to ' +
    'attach again. With input (`stdin=true`, the default) only the owner may attach; to watch ' +
    '(`stdin=false`) needs only what reading the job does, so admins and auditors may watch ' +
    "any client's job. Never from another site's page (the " +
    'cross-site rule applies, since any page may open a WebSocket). `tailBytes` starts near ' +
    "the end of the whole output, for a page that shows a large output's last screen. A queued job " +
    'is waited for. One attached client at a time holds the input; others may attach with ' +
    '`?stdin=false` to watch, or follow the output (`GET .../output`). A client that stops ' +
    'answering pings is cut off within a minute, and the input let go.',
  tag: 'jobs',
  action: 'read',
  parameters: [ref('parameters', 'JobId'), ...queryParameters(attachQuery)],
  responses: {
    101: success('switching to the WebSocket', undefined, {
      Upgrade: { description: '`websocket`', required: true, schema: { const: 'websocket' } },
      'Sec-WebSocket-Protocol': {
        description: 'the channel protocol',
        required: true,
        schema: { const: ATTACH_PROTOCOL },
      },
    }),
    400: ref('responses', 'InvalidQuery'),
    403: problem(
      403,
      "`FORBIDDEN`: with input (`stdin=true`, the default), another client's job, or a role " +
        'that may not write to jobs (attach with `?stdin=false` to watch); ' +
        "`CROSS_SITE_REQUEST`: from another site's page (Sec-Fetch-Site or Origin); " +
        "`CLIENT_DISABLED`: the server's identity policy disables the client",
      ['CLIENT_DISABLED', 'CROSS_SITE_REQUEST', 'FORBIDDEN'],
    ),
    404: ref('responses', 'JobNotFound'),
    409: problem(
      409,
      '`INPUT_BUSY`: another client is attached to the job or writing its input (attach with ' +
        '`?stdin=false` to only watch). A job that has ended, or whose input has, is attached ' +
        'to without input: its output and end are still sent',
      ['INPUT_BUSY'],
    ),
    426: problem(426, 'a plain request: attach is a WebSocket', ['UPGRADE_REQUIRED']),
    429: ref('responses', 'TooManyRequestsOrFollowers'),
  },
});

const WRITE_JOB_INPUT = operation({
  operationId: 'writeJobInput',
  summary: "Write to a job's input",
  description:
    'Streams the request body into the standard input of a job started with `"stdin": true` ' +
    '(`curl -T - .../stdin` pipes a file or a command into it). The body is read as fast as the ' +
    "job reads, for as long as it takes; its end is the end of the job's input (EOF; a " +
    "terminal job's EOF character), after " +
    'which no more input is taken. A writer that goes away before the end of its body leaves ' +
    'the input open for the next; one writer at a time. A queued job is waited for. Only the ' +
    "job's owner may write to it; input is never logged or kept, the audit trail records that " +
    'it was sent, by whom and how many bytes.',
  tag: 'jobs',
  action: 'input',
  parameters: [ref('parameters', 'JobId')],
  requestBody: {
    required: true,
    description:
      "the bytes for the job's standard input, of any length; the media type is not checked",
    // Raw bytes of no bounded length (OpenAPI 3.1: a media type without a schema).
    content: { 'application/octet-stream': {} },
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
    'follow the same job. With `stream=all` and `Accept: ' +
    MULTIPLEXED_STREAM +
    '` the two streams come told apart: ' +
    FRAMES +
    '.',
  tag: 'jobs',
  action: 'read',
  parameters: [ref('parameters', 'JobId'), ...queryParameters(outputQuery)],
  responses: {
    200: success(
      'the output bytes, or both streams in frames',
      { 'application/octet-stream': {}, ...MULTIPLEXED_OUTPUT },
      { 'Cache-Control': noStore, Vary: varyAccept },
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
  parameters: queryParameters(auditQuery),
  responses: {
    200: success('the matching records', json(ref('schemas', 'AuditRecordList'))),
    400: ref('responses', 'InvalidQuery'),
  },
});

const VERIFY_AUDIT_LOG = operation({
  operationId: 'verifyAuditLog',
  summary: 'Verify the audit trail',
  description:
    'Checks the whole chain on the server, as `npm run audit -- verify` does offline: every ' +
    "record's signature, its sequence number and link to the one before, and the signed head " +
    'that says how many records there are. The chain is checked as it stood when the request ' +
    'came: records appended meanwhile are left to the next check. A broken chain is still a ' +
    '`200`, with `ok: false` and the first bad record.',
  tag: 'audit',
  action: 'audit',
  responses: { 200: success('the verdict', json(ref('schemas', 'AuditVerdict'))) },
});

const GET_JWKS = operation({
  operationId: 'getJwks',
  summary: "The audit trail's public keys",
  description: 'The Ed25519 keys that verify audit records (their `jws`) offline.',
  tag: 'audit',
  responses: { 200: success('the key set', json(ref('schemas', 'JsonWebKeySet'))) },
});

const GET_LIMITS = operation({
  operationId: 'getLimits',
  summary: 'What a job may ask for',
  description:
    "The caller's own bounds for `POST /v1/jobs`: its role's ceilings and the defaults a job " +
    'gets for what it does not ask, the limits this host enforces, what all of its running ' +
    'jobs may use together and the output kept for them, and its choices of sandbox. Nothing ' +
    'about other clients. A request within these bounds is not refused for its limits ' +
    '(although it may wait in the queue for memory).',
  tag: 'jobs',
  responses: { 200: success("the caller's limits", json(ref('schemas', 'Limits'))) },
});

const GET_IMAGES = operation({
  operationId: 'getImages',
  summary: 'The root filesystem images',
  description:
    'The images a job may name in `"image"` (imported by the operator with `npm run images`), ' +
    'by name, with when each was imported. A job that names one not listed is refused ' +
    '(`IMAGE_NOT_FOUND`).',
  tag: 'jobs',
  responses: { 200: success('the images', json(ref('schemas', 'ImageList'))) },
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

// ---- The web console: HTML resources on the same port and TLS ---------------------------------

const html = { 'text/html; charset=utf-8': { schema: { type: 'string' } } } as const;
const notModified = success('the copy the browser has is current (`If-None-Match`)');
const etag: Header = { description: 'the version of the file', schema: { type: 'string' } };

const GET_CONSOLE = operation({
  operationId: 'getConsole',
  summary: 'The web console',
  description:
    "The console's page: the caller's jobs (live, paged, filtered), a form to start one, and for " +
    "admins the host's protections and capacity, for admins and auditors the audit trail and its " +
    'verification. It uses this API and nothing else, with the browser holding the client ' +
    'certificate, so it shows exactly what the certificate may see.',
  tag: 'console',
  responses: { 200: success('the page', html, { ETag: etag }), 304: notModified },
});

const GET_CONSOLE_JOB = operation({
  operationId: 'getConsoleJobPage',
  summary: "A job's page in the web console",
  description:
    'The same page, showing one job (a link that can be shared): its command, limits, usage, ' +
    'timing and end, its output following live, and the stop and delete buttons. The page asks ' +
    '`GET /v1/jobs/{id}`; a job the caller may not see is "no job" there as here.',
  tag: 'console',
  parameters: [
    {
      name: 'id',
      in: 'path',
      required: true,
      description: "a job's id; the page shows it, or that there is no such job",
      schema: { type: 'string', maxLength: 200 },
    },
  ],
  responses: { 200: success('the page', html, { ETag: etag }), 304: notModified },
});

const GET_CONSOLE_ASSET = operation({
  operationId: 'getConsoleAsset',
  summary: "The web console's code and styles",
  description: "The console's JavaScript modules, style sheet and icon; any other name is 404.",
  tag: 'console',
  parameters: [
    {
      name: 'file',
      in: 'path',
      required: true,
      description: 'a file of the console, e.g. `app.js` or `console.css`',
      schema: { type: 'string', pattern: '^[a-z0-9-]+\\.(js|css|svg)$', maxLength: 64 },
    },
  ],
  responses: {
    200: success(
      'the file',
      {
        'text/javascript; charset=utf-8': { schema: { type: 'string' } },
        'text/css; charset=utf-8': { schema: { type: 'string' } },
        'image/svg+xml': { schema: { type: 'string' } },
      },
      { ETag: etag },
    ),
    304: notModified,
    404: ref('responses', 'NoSuchFile'),
  },
});

const DESCRIPTION = `Run Linux commands on a host over HTTPS, stop them, and read or follow their output.

**Authentication** is mutual TLS: every client presents a certificate from the server's CA, whose
\`CN\` is the client's name and \`OU\` its role (\`admin\`, \`user\` or \`auditor\`). Refused
certificates never reach HTTP: the connection is closed after the handshake. Each operation lists
the roles that may call it (\`x-roles\`); every other role is answered \`403 FORBIDDEN\`.

**Errors** are \`application/problem+json\` (RFC 9457) with a stable \`code\`. Besides the
responses each operation lists, any path answers \`404 NOT_FOUND\` when it is not one of these, and
every path answers \`405 METHOD_NOT_ALLOWED\` to a method it does not list. Every path answers
\`OPTIONS\` with \`200\` and its methods in \`Allow\`, and \`HEAD\` wherever it answers \`GET\`.
Every response carries \`X-Request-Id\`, and \`Cache-Control: no-store\` but for the console's
files (\`no-cache\`: they hold no data).

**Browsers** hold a client certificate as an ambient credential, so a request a browser marks as
coming from another site's page (\`Sec-Fetch-Site\` or \`Origin\`) is answered
\`403 CROSS_SITE_REQUEST\`, reads included; only a navigation to a page of the console is not.`;

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
    { name: 'console', description: 'the web console: HTML pages and their assets' },
  ],
  paths: {
    '/v1/jobs': { post: START_JOB, get: LIST_JOBS },
    '/v1/jobs/{id}': { get: GET_JOB, delete: DELETE_JOB },
    '/v1/jobs/{id}/stop': { post: STOP_JOB },
    '/v1/jobs/{id}/output': { get: GET_JOB_OUTPUT },
    '/v1/jobs/{id}/stdin': { put: WRITE_JOB_INPUT },
    '/v1/jobs/{id}/attach': { get: ATTACH_JOB },
    '/v1/limits': { get: GET_LIMITS },
    '/v1/images': { get: GET_IMAGES },
    '/v1/audit': { get: LIST_AUDIT_RECORDS },
    '/v1/audit/verify': { get: VERIFY_AUDIT_LOG },
    '/.well-known/jwks.json': { get: GET_JWKS },
    '/healthz': { get: GET_HEALTH },
    '/metrics': { get: GET_METRICS },
    '/openapi.json': { get: GET_OPENAPI },
    '/': { get: GET_CONSOLE },
    '/jobs/{id}': { get: GET_CONSOLE_JOB },
    '/ui/{file}': { get: GET_CONSOLE_ASSET },
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
