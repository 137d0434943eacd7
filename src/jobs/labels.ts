// Labels: a client's own key=value names for its jobs ("pipeline=4711"), to find them again.
// The rules are Kubernetes' for label keys and values, so the labels a CI system already puts on
// its pods fit here unchanged.
import { z } from 'zod';

/** Labels one job may carry; also the most label filters one listing may give. */
export const MAX_LABELS = 16;

const NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
/** A key's optional prefix: a DNS subdomain, lower case, at most 253 characters. */
const PREFIX = '[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?';

/** A key: an optional `prefix/`, then a name of at most 63 characters. */
export const LABEL_KEY = new RegExp(`^(?:${PREFIX}/)?${NAME}$`);
/** A value: empty, or what a key's name may be. */
export const LABEL_VALUE = new RegExp(`^(?:${NAME})?$`);

export const LABEL_KEY_RULE =
  'a key is at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, optionally after a lower-case DNS name and "/"';
export const LABEL_VALUE_RULE =
  'a value is empty or at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';

/** Why `key` is not a label key, or undefined when it is one. */
export function labelKeyProblem(key: string): string | undefined {
  return LABEL_KEY.test(key) ? undefined : LABEL_KEY_RULE;
}

/** Why `value` is not a label value, or undefined when it is one. */
export function labelValueProblem(value: string): string | undefined {
  return LABEL_VALUE.test(value) ? undefined : LABEL_VALUE_RULE;
}

/**
 * A job's labels: what validates them in a request, and (as the OpenAPI document's `Labels`
 * component) what a job record carries.
 */
export const labelsSchema = z
  .record(
    z.string().max(317).regex(LABEL_KEY, LABEL_KEY_RULE),
    z.string().max(63).regex(LABEL_VALUE, LABEL_VALUE_RULE),
  )
  .refine((labels) => Object.keys(labels).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`)
  .meta({
    maxProperties: MAX_LABELS,
    description:
      "the client's own names for a job, to find it again (`?label=key=value`): Kubernetes' rules for label keys and values",
    examples: [{ pipeline: '4711', stage: 'test' }],
  })
  .readonly()
  .default({});
