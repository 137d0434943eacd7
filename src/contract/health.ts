// GET /healthz's answer as a zod schema: the OpenAPI document's `Health` component and the type
// the route builds its answer as. The protections and capacity are the job vocabulary's own
// schemas (jobs/protections.ts), with what only the API adds.
import { z } from 'zod';
import {
  capacitySchema,
  protectionsSchema,
  sandboxProtectionsSchema,
} from '../jobs/protections.ts';
import { networkModeSchema } from '../jobs/job.ts';
import { ROLES } from '../pki/roles.ts';

/** The network modes this server gives jobs, and to whom: the operator's configuration. */
const networkPolicySchema = z
  .object({
    default: networkModeSchema.meta({
      description:
        "a job's mode when it names none (`--network-default`), narrowed to what its client's role may have",
    }),
    egressRoles: z.array(z.enum(ROLES)).readonly().meta({
      description: 'roles that may ask for `"network": "egress"` (`NETWORK_EGRESS_ROLES`)',
    }),
    hostRoles: z.array(z.enum(ROLES)).readonly().meta({
      description: 'roles that may ask for `"network": "host"` (`NETWORK_HOST_ROLES`)',
    }),
  })
  .readonly()
  .meta({
    description:
      "the network modes jobs get (`none`, its own loopback, is every role's; `egress` where `protections.egress` says this host gives it)",
  });

/**
 * What a role may be allowed to do: start, read, write the input of (its own), stop and delete
 * jobs; see every client's jobs (`seeAll`); read the audit trail and the metrics.
 */
export const ACTIONS = [
  'start',
  'read',
  'input',
  'stop',
  'delete',
  'seeAll',
  'audit',
  'metrics',
] as const;
export type Action = (typeof ACTIONS)[number];

export const healthSchema = z
  .object({
    status: z.literal('ok'),
    version: z.string().meta({
      description: "the server's release (package.json's version), as `jobctl version` shows it",
      examples: ['0.1.0'],
    }),
    client: z
      .object({ name: z.string(), role: z.enum(ROLES) })
      .meta({ description: 'who the server takes the caller to be' }),
    permissions: z.array(z.enum(ACTIONS)).readonly().meta({
      description:
        "what the caller's role may do (`seeAll`: every client's jobs, not only its own); a page shows only what it may use",
    }),
    protections: protectionsSchema.extend({
      sandbox: sandboxProtectionsSchema
        .extend({ hostFilesystemRoles: z.array(z.enum(ROLES)).readonly() })
        .meta({ description: 'the per-job sandbox; a feature this host cannot give is false' }),
      network: networkPolicySchema,
    }),
    capacity: capacitySchema.exactOptional().meta({
      description:
        'admins only: the memory all jobs together get (the host less its reserve), how much running jobs reserve (each its memory limit), and how many jobs wait',
    }),
  })
  .readonly();

export type Health = z.output<typeof healthSchema>;
