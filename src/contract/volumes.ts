// The volume routes' wire format as zod schemas: the request that makes a volume, a volume as
// the API answers it, a page of them, and the queries of the listing and of the archives. The
// OpenAPI document's `VolumeRequest`, `Volume` and `VolumeList` components and the route's
// types are made from these.
import { z } from 'zod';
import { timestampSchema } from '../jobs/job.ts';
import { VOLUME_NAME, VOLUME_NAME_RULE } from '../jobs/volume-mounts.ts';
import { MAX_SIZE_BYTES, parseSize, SIZE_TEXT } from '../util/quantities.ts';
import { pageFields } from './jobs.ts';

/** The smallest volume: ext4 makes a working filesystem, journal included, from 32 MiB. */
export const MIN_VOLUME_BYTES = 32 * 1024 ** 2;

const volumeName = z.string().max(63).regex(VOLUME_NAME, VOLUME_NAME_RULE);

export const volumeRequestSchema = z.strictObject({
  name: volumeName.meta({
    description: "the volume's name, unique among the caller's volumes (the label rules)",
    examples: ['src'],
  }),
  size: z
    .union([
      z.int().min(MIN_VOLUME_BYTES).max(MAX_SIZE_BYTES).meta({ format: 'int64' }),
      z.string().max(32).regex(SIZE_TEXT),
    ])
    .transform((size, context) => {
      const bytes = parseSize(size);
      if (bytes === undefined || bytes < MIN_VOLUME_BYTES || bytes > MAX_SIZE_BYTES) {
        context.addIssue({ code: 'custom', message: 'from 32M to 1P' });
        return z.NEVER;
      }
      return bytes;
    })
    .meta({
      description:
        'its size: bytes, or a size such as `256M`, `1Gi` (binary units), from 32M; reserved whole on the data disk when it is made, and all its files may take',
      examples: ['256M'],
    }),
});

export type VolumeRequest = z.output<typeof volumeRequestSchema>;

export const volumeSchema = z
  .object({
    name: volumeName,
    client: z.string().meta({ description: 'the client whose volume it is' }),
    sizeBytes: z.int().meta({ description: 'its size, reserved on the data disk' }),
    usedBytes: z.int().meta({ description: 'what its files take now' }),
    createdAt: timestampSchema,
  })
  .readonly();

export type VolumeAnswer = z.output<typeof volumeSchema>;

export const volumeListSchema = z.object({ volumes: z.array(volumeSchema).readonly() }).readonly();

export const volumeListQuery = z.strictObject(pageFields('volumes'));

export const archiveQuery = z.strictObject({
  path: z
    .string()
    .max(4096)
    .refine((path) => !path.includes('\0'), 'no NUL bytes')
    .default('/')
    .meta({
      description:
        'a path inside the volume (`/` is its root; `..` stops at the root): where an upload unpacks (made if missing), what a download packs',
    }),
});
