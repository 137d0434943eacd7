// The /v1/jobs routes' query strings and listing, as zod schemas: the routes parse queries with
// them, and the OpenAPI document's query parameters (each field's description included) and its
// `JobList` and `ListedJob` components are generated from them.
import { z } from 'zod';
import { jobSchema, timestampSchema } from '../jobs/job.ts';
import { JOB_STATUSES } from '../jobs/job-status.ts';
import { labelKeyProblem, labelValueProblem, MAX_LABELS } from '../jobs/labels.ts';

/** An RFC 3339 time as `since` takes it; src/worker/output-times.ts reads it to nanoseconds. */
const RFC3339_TEXT = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Jobs per page of a listing: as many as asked, up to a bound that keeps one answer small. */
export const LIST_PAGE = { default: 100, max: 1000 } as const;

/** A listing's page: its size and the cursor a `Link` header gives for the next (jobs, volumes). */
export function pageFields(items: string) {
  return {
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(LIST_PAGE.max)
      .default(LIST_PAGE.default)
      .meta({ format: 'int32', description: `at most this many ${items}` }),
    cursor: z
      .string()
      .max(128)
      .optional()
      .meta({ description: 'where to go on: from the `Link` of the previous page' }),
  };
}

const flag = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

// The flags' defaults are prefaults (the text a client would send, parsed like any other):
// a default after a transform is the parsed boolean, which the document could not show.
export const startQuery = z.strictObject({
  follow: flag.prefault('false').meta({
    description:
      "stream the job's output (stdout and stderr as written) in this response until it ends",
  }),
  queue: flag.prefault('true').meta({
    description:
      'when the job cannot start now (for a reason a queued job gives in `queueReason`): `true` (the default) queues it, `false` answers 429 `TOO_MANY_JOBS`',
  }),
});

export const outputQuery = z.strictObject({
  follow: flag.prefault('false').meta({ description: 'keep streaming until the job ends' }),
  stream: z.enum(['stdout', 'stderr', 'all']).default('all').meta({
    description:
      'which output: stdout, stderr, or both as the worker read them (their order across each other is kept only for a job started with `"stderr": "merged"`)',
  }),
  offset: z.coerce
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .default(0)
    .meta({ format: 'int64', description: 'skip this many bytes of the selected output' }),
  since: z
    .string()
    .max(40)
    .regex(RFC3339_TEXT, 'expected an RFC 3339 time such as 2026-12-07T18:10:00Z')
    .optional()
    .meta({
      description:
        'start at the first piece of output written at or after this time (RFC 3339, fractions to the nanosecond), as `docker logs --since` does',
    }),
  timestamps: flag.prefault('false').meta({
    description:
      "start each line with the time its piece of output was written, in RFC 3339 with nanoseconds in UTC, and a space (`2026-12-07T18:10:00.123456789Z line`), as `docker logs --timestamps` does; each stream's lines apart",
  }),
});

export const attachQuery = z
  .strictObject({
    from: z.enum(['start', 'now']).default('start').meta({
      description:
        'where the output starts: `start` (the default) for all of it, `now` for only what comes next',
    }),
    tailBytes: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional().meta({
      format: 'int64',
      description:
        "start at most this many bytes before the end of the whole output (stdout and stderr together, as the job wrote them; a terminal's one stream), then follow it: the tail of a large output without all of it. Not with `from=now`",
    }),
    stdin: flag.prefault('true').meta({
      description:
        "`false` to only watch: the job's input is left alone (not taken, so never `INPUT_BUSY`), and any role that may read the job may watch it. With input (the default) only the job's owner may attach",
    }),
  })
  // Named as a field of its own, so the problem's `errors` say which parameter to drop.
  .refine((query) => query.tailBytes === undefined || query.from !== 'now', {
    path: ['tailBytes'],
    message: 'not with from=now: the tail of the output starts before now',
  });

const STATUS_NAMES = JOB_STATUSES.join('|');

// Split and checked name by name; the pattern (a JSON Schema override: a transform has none of
// its own) says the same for the document.
const statuses = z
  .string()
  .max(256)
  .meta({
    pattern: `^(${STATUS_NAMES})(,(${STATUS_NAMES}))*$`,
    examples: ['running', 'exited,failed'],
  })
  .transform((text) => text.split(','))
  .pipe(z.array(z.enum(JOB_STATUSES)).min(1));

// `key=value`; a key on its own is not a selector (labels are matched exactly). Checked by the
// transform; the pattern (a JSON Schema override) tells the document the outline.
const labelSelector = z
  .string()
  .max(512)
  .meta({ pattern: '^[^=]+=.*$' })
  .transform((text, context) => {
    const equals = text.indexOf('=');
    const key = equals === -1 ? text : text.slice(0, equals);
    const value = equals === -1 ? undefined : text.slice(equals + 1);
    const problem =
      value === undefined
        ? 'expected key=value'
        : (labelKeyProblem(key) ?? labelValueProblem(value));
    if (problem !== undefined) {
      context.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return [key, value ?? ''] as const;
  });

/** Koa's query parser gives one `?label=` as a string and several as an array. */
function oneOrMore(value: unknown): unknown {
  return typeof value === 'string' ? [value] : value;
}

const labelSelectors = z
  .preprocess(oneOrMore, z.array(labelSelector).max(MAX_LABELS))
  .transform((pairs, context) => {
    const labels = Object.fromEntries(pairs);
    if (Object.keys(labels).length !== pairs.length) {
      context.addIssue({ code: 'custom', message: 'each label key at most once' });
      return z.NEVER;
    }
    return labels;
  });

export const listQuery = z.strictObject({
  status: statuses
    .optional()
    .meta({ description: 'only jobs with one of these statuses (comma-separated)' }),
  since: timestampSchema
    .optional()
    .meta({ description: 'only jobs created at this time or later' }),
  until: timestampSchema.optional().meta({ description: 'only jobs created before this time' }),
  label: labelSelectors.optional().meta({
    description: 'only jobs with this label (`key=value`); several are all required',
  }),
  idPrefix: z
    .string()
    .max(36)
    .regex(/^[0-9a-f-]{1,36}$/, 'expected the start of a job id')
    .optional()
    .meta({ description: 'only jobs whose id starts so (how `jobctl` resolves short ids)' }),
  ...pageFields('jobs'),
});

/**
 * How much of a job's args a listing shows, in characters: a page of a thousand jobs each with
 * 60,000 bytes of arguments would be 60 MB. Past it a listing cuts them (its job record keeps them
 * whole); below it an entry is the job's record exactly.
 */
export const LISTED_ARGS_CHARACTERS = 4096;

/** A job as a listing shows it: its record, with long args cut. */
export const listedJobSchema = jobSchema
  .unwrap()
  .extend({
    argsTruncated: z
      .literal(true)
      .exactOptional()
      .meta({
        description: `present when \`args\` were cut: together they were longer than ${LISTED_ARGS_CHARACTERS} characters, and the listing shows only their first ${LISTED_ARGS_CHARACTERS} (the argument that crosses the line cut short, the rest left out). \`GET /v1/jobs/{id}\` has them whole`,
      }),
  })
  .readonly();

export type ListedJob = z.output<typeof listedJobSchema>;

/** One page of GET /v1/jobs. */
export const jobListSchema = z.object({ jobs: z.array(listedJobSchema).readonly() }).readonly();
