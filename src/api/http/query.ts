// Query strings are validated like bodies: a zod schema per route, and an INVALID_REQUEST that
// names each bad parameter.
import type { z } from 'zod';
import { InvalidRequestError } from '../../errors.ts';
import { describeIssues } from './validation-messages.ts';

export function parseQuery<T>(schema: z.ZodType<T>, query: unknown): T {
  const parsed = schema.safeParse(query);
  if (parsed.success) return parsed.data;
  const details = describeIssues(parsed.error.issues, query, (path) =>
    path.length === 0 ? '(query)' : `?${path.map(String).join('.')}`,
  );
  throw new InvalidRequestError(
    `invalid query: ${details.map((detail) => `${detail.field}: ${detail.message}`).join('; ')}`,
    details,
  );
}
