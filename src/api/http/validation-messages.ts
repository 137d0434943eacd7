// What a request's validation problems say to its client, in the words of the interface: the field
// it sent and what that field expects ("env: 'BAD NAME' is not a valid variable name (...)"), never
// the validator's own phrases ("Invalid key in record", "expected record, received array").
// Messages our schemas spell out themselves (a regex's rule, a refine) are kept as written.
import type { z } from 'zod';
import { LABEL_KEY_RULE } from '../../jobs/labels.ts';

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** What a record's keys must be, by the field that holds the record. */
const KEY_RULES: Readonly<Record<string, string>> = {
  env: 'is not a valid variable name (letters, digits and _; not starting with a digit)',
  labels: `is not a valid label key (${LABEL_KEY_RULE})`,
};

/**
 * One problem per field (a value that fails two checks is told once), each naming the field as
 * `fieldName` spells it: `limits.memory` in a body, `?offset` in a query.
 */
export function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  fieldName: (path: readonly PropertyKey[]) => string,
): FieldProblem[] {
  const problems = new Map<string, string>();
  for (const issue of issues) {
    const keyed = issue.code === 'invalid_key' ? issue.path.slice(0, -1) : issue.path;
    const field = fieldName(keyed);
    if (!problems.has(field)) problems.set(field, describeIssue(issue, input));
  }
  return [...problems].map(([field, message]) => ({ field, message }));
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return describeWrongType(issue.expected, valueAt(input, issue.path));
    case 'invalid_key':
      return describeBadKey(issue);
    case 'unrecognized_keys':
      return `unknown ${issue.keys.length === 1 ? 'field' : 'fields'} ${issue.keys.map(quote).join(', ')}`;
    case 'invalid_value':
      return `expected ${alternatives(issue.values.map((value) => JSON.stringify(value)))}`;
    case 'too_small':
      return describeBound(issue.origin, 'least', issue.minimum, issue.inclusive !== false);
    case 'too_big':
      return describeBound(issue.origin, 'most', issue.maximum, issue.inclusive !== false);
    case 'invalid_union':
      return issue.errors[0]?.[0] === undefined
        ? 'not a value this field takes'
        : describeIssue(issue.errors[0][0], input);
    default:
      return ownMessage(issue.message);
  }
}

function describeWrongType(expected: string, value: unknown): string {
  if (value === undefined) return 'required';
  const wanted: Record<string, string> = {
    int: 'a whole number',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    array: 'a list',
    record: 'an object',
    object: 'an object',
  };
  return `expected ${wanted[expected] ?? expected}, got ${kindOf(value)}`;
}

function describeBadKey(issue: z.core.$ZodIssue & { code: 'invalid_key' }): string {
  const key = issue.path.at(-1);
  const field = String(issue.path.at(-2) ?? '');
  const rule = KEY_RULES[field] ?? `is not a valid key: ${ownMessage(issue.issues[0]?.message)}`;
  return `${quote(String(key))} ${rule}`;
}

function describeBound(
  origin: string,
  side: 'least' | 'most',
  bound: number | bigint,
  inclusive: boolean,
): string {
  const limit = Number(bound);
  if (origin === 'string' && side === 'least' && limit === 1) return 'must not be empty';
  const unit: Record<string, string> = {
    string: ' characters',
    array: ' items',
    set: ' items',
    file: ' bytes',
  };
  if (!inclusive) return `must be ${side === 'least' ? 'more' : 'less'} than ${limit}`;
  return `must be at ${side} ${limit}${unit[origin] ?? ''}`;
}

/** Our schemas' own messages are already in the interface's words; zod's are not. */
function ownMessage(message: string | undefined): string {
  return message === undefined || /^Invalid\b/.test(message)
    ? 'not a value this field takes'
    : message;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return JSON.stringify(value);
}

function alternatives(values: readonly string[]): string {
  return values.length <= 1
    ? (values[0] ?? 'nothing')
    : `${values.slice(0, -1).join(', ')} or ${values.at(-1) ?? ''}`;
}

function quote(text: string): string {
  return `'${text}'`;
}
