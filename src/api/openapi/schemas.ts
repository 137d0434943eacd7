// The document's schemas, generated (z.toJSONSchema) from the zod schemas that validate requests
// and from which the code's wire types are inferred, so the document cannot accept what the
// server refuses, or promise what it does not send; and a route's query parameters, from the zod
// schema that parses them.
import { z } from 'zod';
import {
  auditRecordListSchema,
  auditVerdictSchema,
  jsonWebKeySetSchema,
  signedAuditRecordSchema,
} from '../../contract/audit.ts';
import { healthSchema } from '../../contract/health.ts';
import { jobRequestSchema } from '../../contract/job-request.ts';
import { imageListSchema, imageSchema } from '../../contract/images.ts';
import { limitsSchema } from '../../contract/limits.ts';
import { jobListSchema, listedJobSchema } from '../../contract/jobs.ts';
import { problemSchema } from '../../contract/problem.ts';
import { volumeListSchema, volumeRequestSchema, volumeSchema } from '../../contract/volumes.ts';
import {
  jobSchema,
  jobStatusSchema,
  resourceLimitsSchema,
  resourceUsageSchema,
} from '../../jobs/job.ts';
import { labelsSchema } from '../../jobs/labels.ts';
import type { JsonSchema, Parameter } from './types.ts';

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
  Volume: volumeSchema,
  VolumeList: volumeListSchema,
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

export const SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  JobRequest: fromZod(jobRequestSchema),
  VolumeRequest: fromZod(volumeRequestSchema),
  ...answerComponents(),
};

/** The query parameters a route's zod schema parses, each described by its field's description. */
export function queryParameters(query: z.ZodObject): Parameter[] {
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
