// The audit trail as the API shows it, as zod schemas: the shape of a record (which the audit
// log signs), the GET /v1/audit query and the key set that verifies records. The OpenAPI
// document's `AuditRecord`, `AuditRecordList` and `JsonWebKeySet` components and the audit types
// are made from these.
import { z } from 'zod';
import { timestampSchema } from '../jobs/job.ts';
import { describeValues } from '../util/describe-values.ts';

export const AUDIT_OUTCOMES = ['allowed', 'denied', 'failed'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

// A Record keyed by the outcome type: a new outcome fails to compile until it is described.
const OUTCOME_MEANINGS: Readonly<Record<AuditOutcome, string>> = {
  allowed: 'the action was done (status below 400)',
  denied: 'authentication or authorization refused it (401 or 403)',
  failed: 'it was allowed but did not succeed (any other status from 400 on)',
};

export const auditClientSchema = z
  .object({
    name: z.string().nullable(),
    role: z.string().nullable(),
    serial: z.string().nullable().meta({ description: "the certificate's serial number" }),
    fingerprint256: z.string().nullable(),
  })
  .readonly();

export type AuditClient = z.output<typeof auditClientSchema>;

/** What the server reports; the log adds the sequence number, time and chain link. */
export const auditEventSchema = z.object({
  action: z.string().meta({
    examples: [
      'job.start',
      'job.stop',
      'job.output',
      'job.delete',
      'job.dequeue',
      'job.queue_timeout',
      'job.revoked',
      'auth.denied',
      'tls.refused',
    ],
    description:
      "`job.dequeue`, `job.queue_timeout` and `job.revoked` are the server's own: a queued job started, or waited too long, or its client certificate was revoked (`details.outcome`: `never started`, `stopped` or `left running`); their `status` is null",
  }),
  outcome: z.enum(AUDIT_OUTCOMES).meta({ description: describeValues(OUTCOME_MEANINGS) }),
  status: z.int().nullable().meta({
    description: 'the HTTP status the client got; null for what no request caused',
  }),
  client: auditClientSchema,
  jobId: z.string().nullable(),
  requestId: z.string().optional().meta({
    description:
      "the request's id (X-Request-Id, and the server log's `requestId`); absent for what no request caused",
  }),
  traceId: z.string().optional().meta({
    description:
      "the W3C trace id: the client's `traceparent`'s, or one the server made up; absent for what no request caused",
  }),
  details: z
    .record(z.string(), z.unknown())
    .readonly()
    .meta({ description: 'depends on the action; never environment values' }),
});

export type AuditEvent = Readonly<z.output<typeof auditEventSchema>>;

/** One line of the audit log, as signed. */
export const auditRecordSchema = z.object({
  seq: z.int().min(1),
  time: timestampSchema,
  prev: z.string().nullable().meta({
    description: "base64url SHA-256 of the previous record's JWS; null for the first record",
  }),
  ...auditEventSchema.shape,
});

export type AuditRecord = Readonly<z.output<typeof auditRecordSchema>>;

/** A record as GET /v1/audit answers it: with the line it was read from, to verify offline. */
export const signedAuditRecordSchema = auditRecordSchema.extend({
  jws: z.string().meta({
    description: 'the record as a compact JWS (EdDSA), verifiable with /.well-known/jwks.json',
  }),
});

export type SignedAuditRecord = Readonly<z.output<typeof signedAuditRecordSchema>>;

export const auditRecordListSchema = z.object({ records: z.array(signedAuditRecordSchema) });

/** The public keys that verify records: GET /.well-known/jwks.json. */
export const jsonWebKeySetSchema = z.object({
  keys: z.array(
    z.object({
      kty: z.literal('OKP'),
      crv: z.literal('Ed25519'),
      x: z.string(),
      kid: z.string().meta({ description: 'the RFC 7638 thumbprint; JWS headers name it' }),
      alg: z.literal('EdDSA'),
      use: z.literal('sig'),
    }),
  ),
});

/** The most records one GET /v1/audit answers. */
const MAX_RECORDS = 1000;

export const auditQuery = z.strictObject({
  client: z.string().max(64).optional().meta({ description: "only this client's records" }),
  job: z.uuid().max(36).optional().meta({ description: "only this job's records" }),
  since: timestampSchema.optional().meta({ description: 'only records from this time on' }),
  until: timestampSchema.optional().meta({ description: 'only records up to this time' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_RECORDS)
    .default(100)
    .meta({ format: 'int32', description: 'at most this many records' }),
});

/** GET /v1/audit/verify: the verdict on the whole chain, as `npm run audit -- verify` gives it. */
export const auditVerdictSchema = z
  .discriminatedUnion('ok', [
    z
      .object({
        ok: z.literal(true),
        records: z.int().min(0).meta({ description: 'how many records were verified' }),
        headChecked: z.boolean().meta({
          description:
            'the signed head was there and agrees (false only for a log with no records yet)',
        }),
        startsAfter: z.int().min(1).optional().meta({
          description:
            'the oldest audit files were shipped away: verification starts after this record (the first one present is trusted to link to it)',
        }),
      })
      .readonly(),
    z
      .object({
        ok: z.literal(false),
        file: z.string().meta({
          examples: ['audit.log', 'audit-000000000001.log'],
          description: 'the file of the data directory that holds the first bad record',
        }),
        line: z.int().min(1).meta({
          description:
            'the first bad record, by its line in that file (one past the last for records cut off the end)',
        }),
        reason: z.string().meta({
          examples: ['the signature does not verify (edited or forged)'],
          description: 'what is wrong with it',
        }),
      })
      .readonly(),
  ])
  .meta({
    description:
      'every record signed by the audit key, numbered in order, each linked to the one before, and as many as the signed head says; `ok: false` names the first record that is not',
  });

export type AuditVerdict = z.output<typeof auditVerdictSchema>;
