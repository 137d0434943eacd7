// GET /healthz's answer as a zod schema: the OpenAPI document's `Health` component and the type
// the route builds its answer as. The protections and capacity are the job vocabulary's own
// schemas (jobs/protections.ts), with what only the API adds.
import { z } from 'zod';
import {
  capacitySchema,
  protectionsSchema,
  sandboxProtectionsSchema,
} from '../jobs/protections.ts';
import { ROLES } from '../pki/roles.ts';

export const healthSchema = z
  .object({
    status: z.literal('ok'),
    client: z
      .object({ name: z.string(), role: z.enum(ROLES) })
      .meta({ description: 'who the server takes the caller to be' }),
    protections: protectionsSchema.extend({
      sandbox: sandboxProtectionsSchema
        .extend({ hostFilesystemRoles: z.array(z.enum(ROLES)).readonly() })
        .meta({ description: 'the per-job sandbox; a feature this host cannot give is false' }),
    }),
    capacity: capacitySchema.exactOptional().meta({
      description:
        'admins only: the memory all jobs together get (the host less its reserve), how much running jobs reserve (each its memory limit), and how many jobs wait',
    }),
  })
  .readonly();

export type Health = z.output<typeof healthSchema>;
