// GET /v1/limits's answer as a zod schema: what the caller's role may ask for when it starts a
// job, so that a form can show the bounds and keep its inputs within them. The OpenAPI document's
// `Limits` component and the type the route builds are both made from it. Only the caller's own
// role and client: nothing here tells one client about another.
import { z } from 'zod';
import {
  LIMIT_KINDS,
  networkModeSchema,
  resourceLimitsSchema,
  sandboxModeSchema,
} from '../jobs/job.ts';
import { ROLES } from '../pki/roles.ts';

const timeoutMs = z.int().min(1).nullable();

export const limitsSchema = z
  .object({
    role: z.enum(ROLES).meta({ description: "the caller's role, whose limits these are" }),
    mayStart: z.boolean().meta({
      description: 'whether the role may start jobs at all (auditors may not)',
    }),
    ceilings: z
      .object({
        limits: resourceLimitsSchema,
        timeoutMs: timeoutMs.meta({ description: 'the longest `timeout`; null for no ceiling' }),
      })
      .readonly()
      .meta({
        description:
          'the most a request of this role may ask for (`LIMIT_EXCEEDS_CEILING` above it); an absent limit has no ceiling. A request may ask at most the lower of this and `clientTotals`',
      }),
    defaults: z
      .object({
        limits: resourceLimitsSchema,
        timeoutMs: timeoutMs.meta({ description: "a job's wall-clock limit; null for none" }),
      })
      .readonly()
      .meta({
        description:
          'what a job gets for what it does not ask: only kinds the host enforces, each at most the client total; an absent limit is not limited',
      }),
    enforceableLimits: z.array(z.enum(LIMIT_KINDS)).readonly().meta({
      description:
        'the kinds this host can enforce (`cpu`: `cpus`, `memory`: `memoryBytes`, `pids`: `pids`, `io`: `ioReadBytesPerSecond` and `ioWriteBytesPerSecond`); asking for another kind is a `400 LIMIT_NOT_ENFORCEABLE`',
    }),
    clientTotals: resourceLimitsSchema.meta({
      description:
        "what all of the caller's running jobs may use together; no one job may ask more (`LIMIT_EXCEEDS_CLIENT_TOTAL`). An absent limit is not limited",
    }),
    outputBudgetBytes: z.int().min(0).nullable().meta({
      description:
        "the output kept for all of the caller's jobs together, running and ended; null for no budget",
    }),
    sandbox: z
      .object({
        private: z.boolean().meta({
          description:
            "this host gives the private sandbox (and so images); without it every job runs on the host's filesystem",
        }),
        host: z.boolean().meta({
          description: 'the role may ask for `"sandbox": "host"` (`SANDBOX_NOT_ALLOWED` otherwise)',
        }),
        default: sandboxModeSchema.meta({
          description: 'what a job gets that does not ask for a sandbox',
        }),
      })
      .readonly()
      .meta({ description: "the choices of a job's filesystem this role has here" }),
    network: z
      .object({
        egress: z.boolean().meta({
          description:
            'the role may ask for `"network": "egress"` (`NETWORK_EGRESS_FORBIDDEN` otherwise)',
        }),
        host: z.boolean().meta({
          description:
            'the role may ask for `"network": "host"` (`NETWORK_HOST_FORBIDDEN` otherwise)',
        }),
        default: networkModeSchema.meta({
          description:
            "what a job gets that names no network: the server's default, narrowed to what the role may have",
        }),
      })
      .readonly()
      .meta({
        description: "the choices of a job's network this role has here (`none` is always one)",
      }),
  })
  .meta({ description: "what the caller's role may ask for when it starts a job, on this host" })
  .readonly();

export type Limits = z.output<typeof limitsSchema>;
