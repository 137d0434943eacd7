// A job's spec as its record keeps it, and back. The record (jobSchema) shows what a job asked for
// beside who asked and what became of it; the spec's part of it is every field that is neither,
// with the environment's names for its values (never kept) and null for what was not asked. The
// store keeps that part as one document, the audit trail records it at a start, and a queued job
// is launched from it: none of them lists the fields, so a field the request gains needs no edit.
import {
  jobSchema,
  SETTLED_FIELDS,
  type Frozen,
  type Job,
  type JobRequest,
  type JobSpec,
  type SettledField,
} from './job.ts';

/** The fields of a job's record that are not its spec: who started it, and what became of it. */
const RECORD_ONLY_FIELDS = [
  'id',
  'owner',
  'clientSerial',
  'status',
  'exitCode',
  'signal',
  'error',
  'oomKilled',
  'usage',
  'outputBytes',
  'outputTruncated',
  'outputCapBytes',
  'queuePosition',
  'queueReason',
  'createdAt',
  'startedAt',
  'stopRequestedAt',
  'endedAt',
] as const satisfies readonly (keyof Job)[];

/** What a job asked for, as its record shows it. */
export type RecordedSpec = Omit<Job, (typeof RECORD_ONLY_FIELDS)[number]>;

/** The spec as its record would show it, derived field by field from JobSpec's own type. */
type RecordOf<Spec> = {
  readonly [Field in Exclude<keyof Spec, 'env'>]-?: undefined extends Spec[Field]
    ? Exclude<Spec[Field], undefined> | null
    : Spec[Field];
} & { readonly envNames: readonly string[] };

/**
 * True when the record's spec fields and JobSpec say the same: a field added to the request
 * (and so to JobSpec) but not to the job record, or the other way round, fails to compile here.
 */
type SameFields<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const SPEC_MATCHES_RECORD: SameFields<RecordOf<JobSpec>, RecordedSpec> = true;

/** The spec's fields of a record, in the record's order. */
export const RECORDED_SPEC_FIELDS: readonly (keyof RecordedSpec)[] = Object.keys(
  jobSchema.unwrap().shape,
).filter(
  (field) => !(RECORD_ONLY_FIELDS as readonly string[]).includes(field),
) as (keyof RecordedSpec)[];

/** A spec as the job's record keeps it: the environment's names, sorted; null for what is absent. */
export function recordedSpecOf(spec: JobSpec): RecordedSpec {
  const fields = spec as unknown as Readonly<Record<string, unknown>>;
  return Object.fromEntries(
    RECORDED_SPEC_FIELDS.map((field) => [
      field,
      field === 'envNames' ? Object.keys(spec.env).sort() : (fields[field] ?? null),
    ]),
  ) as unknown as RecordedSpec;
}

/** The spec a record (a job, or its stored spec) was made from, with its environment's values. */
export function specOfRecord(record: RecordedSpec, env: Readonly<Record<string, string>>): JobSpec {
  const asked = RECORDED_SPEC_FIELDS.filter(
    (field) => field !== 'envNames' && record[field] !== null,
  ).map((field): [string, unknown] => [field, record[field]]);
  return { ...Object.fromEntries(asked), env } as unknown as JobSpec;
}

/** The spec's part of a job's record, as the store keeps it. */
export function specPartOf(job: Job): RecordedSpec {
  return Object.fromEntries(
    RECORDED_SPEC_FIELDS.map((field) => [field, job[field]]),
  ) as unknown as RecordedSpec;
}

/**
 * The fields of a request the server keeps as the client sent them: all but SETTLED_FIELDS, so a
 * field the request gains reaches the spec with no line of its own in parseJobRequest.
 */
export function keptAsAsked(request: JobRequest): Frozen<Omit<JobRequest, SettledField>> {
  const settled: readonly string[] = SETTLED_FIELDS;
  return Object.fromEntries(
    Object.entries(request).filter(([field]) => !settled.includes(field)),
  ) as unknown as Frozen<Omit<JobRequest, SettledField>>;
}
