// Query strings are validated like bodies: a zod schema per route, and an INVALID_REQUEST that
// names each bad parameter.
import type { z } from 'zod';
import { InvalidRequestError } from '../errors.ts';

export function parseQuery<T>(schema: z.ZodType<T>, query: unknown): T {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((issue) => ({
    field: issue.path.length === 0 ? '(query)' : `?${issue.path.map(String).join('.')}`,
    message: issue.message,
  }));
  throw new InvalidRequestError(
    `invalid query: ${details.map((detail) => `${detail.field}: ${detail.message}`).join('; ')}`,
    details,
  );
}
