// What protects jobs on this host and how much of it is spoken for: the launcher and the registry
// find it out, /healthz and the start-up log report it. Shared vocabulary, so the API can report
// it without knowing how jobs are launched; zod schemas, so that /healthz's OpenAPI component is
// generated from the same definition as the types.
import { z } from 'zod';
import { LIMIT_KINDS } from './job.ts';

/** Which parts of the per-job sandbox this host gives (see docs/design.md). */
export const sandboxProtectionsSchema = z.object({
  privateRoot: z.boolean().meta({
    description:
      'its own root (pivot_root) from read-only binds, memory-backed writable space, its own /proc, /dev and /sys',
  }),
  uidPerClient: z.boolean().meta({
    description: "each client's jobs run as that client's own uid, from `uidRange`",
  }),
  uidRange: z.object({ first: z.int(), last: z.int() }).readonly().nullable(),
  seccomp: z.boolean().meta({
    description: "the system-call filter modelled on Docker's default profile",
  }),
  binds: z.array(z.string()).readonly().meta({
    description: 'host paths a sandboxed job sees: `PATH` read-only, `PATH:rw`',
  }),
});

export type SandboxProtections = Readonly<z.output<typeof sandboxProtectionsSchema>>;

export const protectionsSchema = z.object({
  cgroups: z.enum(['v1', 'v2', 'none']),
  enforceableLimits: z.array(z.enum(LIMIT_KINDS)).readonly(),
  pidNamespace: z.boolean(),
  networkNamespace: z.boolean(),
  egress: z.boolean().meta({
    description:
      'this host gives `"network": "egress"` (root, nftables); where it does not, such a job fails to start (`LIMIT_NOT_ENFORCEABLE`)',
  }),
  mountNamespace: z.boolean(),
  jobUser: z.string().meta({
    description:
      "the account of jobs on the host's filesystem (and of every job without the sandbox)",
  }),
  sandbox: sandboxProtectionsSchema,
});

/** What protects jobs on this host, reported by /healthz and logged at start-up. */
export type Protections = Readonly<z.output<typeof protectionsSchema>>;

/** What the host gives jobs and how much of it is spoken for: /healthz shows it to admins. */
export const capacitySchema = z
  .object({
    memoryBytes: z.int().min(0).nullable(),
    reservedMemoryBytes: z.int().min(0),
    queued: z.int().min(0),
  })
  .readonly();

export type Capacity = z.output<typeof capacitySchema>;
