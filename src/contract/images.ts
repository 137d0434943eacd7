// GET /v1/images's answer as a zod schema: the root filesystem images this server has, which a
// job names with `"image"`. The OpenAPI document's `ImageList` component and the type the route
// builds are both made from it. Only what the image store knows without reading the images:
// names and when each was imported (a size would mean walking every file of every image).
import { z } from 'zod';
import { IMAGE_NAME, timestampSchema } from '../jobs/job.ts';

/** The most images one answer lists: an operator imports a handful, never thousands. */
export const MAX_LISTED_IMAGES = 1000;

export const imageSchema = z
  .object({
    name: z
      .string()
      .max(64)
      .regex(IMAGE_NAME)
      .meta({ description: 'what a job names in `"image"`' }),
    importedAt: timestampSchema.meta({ description: 'when the operator imported it (RFC 3339)' }),
  })
  .readonly();

export const imageListSchema = z
  .object({
    images: z
      .array(imageSchema)
      .max(MAX_LISTED_IMAGES)
      .readonly()
      .meta({ description: `by name; the first ${MAX_LISTED_IMAGES}` }),
  })
  .readonly();

export type Image = z.infer<typeof imageSchema>;
export type ImageList = z.infer<typeof imageListSchema>;
