// A small JSON Schema (2020-12) validator for the subset the OpenAPI document uses, so the contract
// test can check real responses against it without a validator dependency. It refuses keywords
// it does not know rather than skip them: a schema it cannot fully check is a test failure.
//
// Objects are checked *sealed*: where a schema lists `properties` and says nothing of
// `additionalProperties`, a property it does not list is an error. The published document stays
// open to additions, but the server cannot send a field the document does not describe.

export type Schema = { readonly [keyword: string]: unknown } | boolean;

/** Keywords that describe rather than constrain. */
const ANNOTATIONS = new Set([
  'description',
  'title',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentMediaType',
]);

const CHECKED = new Set([
  '$ref',
  'allOf',
  'anyOf',
  'oneOf',
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'maxProperties',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
]);

const FORMATS: Readonly<Record<string, (value: string) => boolean>> = {
  'date-time': (value) =>
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(value) &&
    !Number.isNaN(Date.parse(value)),
  uuid: (value) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value),
  uri: (value) => /^[a-z][a-z0-9+.-]*:\S+$/i.test(value),
};

/** Keywords in a schema, or in any schema inside it, that this validator would not check. */
export function uncheckedKeywords(schema: Schema, path = '$'): string[] {
  if (typeof schema === 'boolean') return [];
  const own = Object.keys(schema)
    .filter((keyword) => !isKnown(keyword))
    .map((keyword) => `${path}: ${keyword}`);
  const children: [string, Schema][] = [
    ...Object.entries((schema.properties ?? {}) as Record<string, Schema>).map(
      ([name, child]): [string, Schema] => [`${path}.${name}`, child],
    ),
    ...(['allOf', 'anyOf', 'oneOf'] as const).flatMap((keyword) =>
      ((schema[keyword] ?? []) as Schema[]).map((child, index): [string, Schema] => [
        `${path}/${keyword}[${index}]`,
        child,
      ]),
    ),
    ...(['items', 'additionalProperties', 'propertyNames'] as const)
      .filter((keyword) => typeof schema[keyword] === 'object')
      .map((keyword): [string, Schema] => [`${path}/${keyword}`, schema[keyword] as Schema]),
  ];
  return [...own, ...children.flatMap(([where, child]) => uncheckedKeywords(child, where))];
}

function isKnown(keyword: string): boolean {
  return CHECKED.has(keyword) || ANNOTATIONS.has(keyword) || keyword.startsWith('x-');
}

/** Resolves a local `$ref` (`#/components/schemas/Job`) against the root document. */
export function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) throw new Error(`only local references are supported: ${ref}`);
  let node = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) {
      throw new Error(`unresolved reference ${ref}`);
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Every way `value` fails `schema`, each as `path: reason`; empty when it conforms. */
export function validate(schema: Schema, value: unknown, root: unknown): string[] {
  const errors: string[] = [];
  check(schema, value, '$', { root, errors, sealed: true });
  return errors;
}

interface Context {
  readonly root: unknown;
  readonly errors: string[];
  /** Whether this application of a schema owns the sealed-object check at its location. */
  readonly sealed: boolean;
}

function check(schema: Schema, value: unknown, path: string, context: Context): void {
  if (schema === true) return;
  if (schema === false) {
    context.errors.push(`${path}: no value is allowed here`);
    return;
  }
  const unknown = Object.keys(schema).find((keyword) => !isKnown(keyword));
  if (unknown !== undefined) {
    throw new Error(`${path}: the test validator does not know the keyword '${unknown}'`);
  }
  const inner = { ...context, sealed: false };
  if (typeof schema.$ref === 'string') {
    check(resolvePointer(context.root, schema.$ref) as Schema, value, path, inner);
  }
  for (const member of (schema.allOf as Schema[] | undefined) ?? [])
    check(member, value, path, inner);
  checkAlternatives(schema, value, path, context);
  checkType(schema, value, path, context.errors);
  checkValue(schema, value, path, context.errors);
  if (typeof value === 'string') checkString(schema, value, path, context.errors);
  if (typeof value === 'number') checkNumber(schema, value, path, context.errors);
  if (Array.isArray(value)) checkArray(schema, value, path, context);
  else if (isObject(value)) checkObject(schema, value, path, context);
}

function checkAlternatives(schema: Schema, value: unknown, path: string, context: Context): void {
  if (typeof schema === 'boolean') return;
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const branches = schema[keyword] as Schema[] | undefined;
    if (branches === undefined) continue;
    const failures = branches.map((branch) => {
      const errors: string[] = [];
      check(branch, value, path, { root: context.root, errors, sealed: true });
      return errors;
    });
    const passed = failures.filter((errors) => errors.length === 0).length;
    if (passed === 0) {
      context.errors.push(`${path}: matches none of ${keyword} (${failures.flat().join('; ')})`);
    } else if (keyword === 'oneOf' && passed > 1) {
      context.errors.push(`${path}: matches ${passed} branches of oneOf`);
    }
  }
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value;
}

function checkType(schema: Schema, value: unknown, path: string, errors: string[]): void {
  if (typeof schema === 'boolean' || schema.type === undefined) return;
  const allowed = [schema.type].flat() as string[];
  const actual = typeOf(value);
  const matches = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
  if (!matches) errors.push(`${path}: expected ${allowed.join(' or ')}, received ${actual}`);
}

function checkValue(schema: Schema, value: unknown, path: string, errors: string[]): void {
  if (typeof schema === 'boolean') return;
  const same = (candidate: unknown): boolean => JSON.stringify(candidate) === JSON.stringify(value);
  if ('const' in schema && !same(schema.const)) {
    errors.push(
      `${path}: expected ${JSON.stringify(schema.const)}, received ${JSON.stringify(value)}`,
    );
  }
  const choices = schema.enum as unknown[] | undefined;
  if (choices !== undefined && !choices.some(same)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(choices)}`);
  }
}

function checkString(schema: Schema, value: string, path: string, errors: string[]): void {
  if (typeof schema === 'boolean') return;
  const length = [...value].length;
  if (typeof schema.minLength === 'number' && length < schema.minLength) {
    errors.push(`${path}: shorter than ${schema.minLength}`);
  }
  if (typeof schema.maxLength === 'number' && length > schema.maxLength) {
    errors.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
    errors.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
  if (format !== undefined && !format(value)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not a ${String(schema.format)}`);
  }
}

function checkNumber(schema: Schema, value: number, path: string, errors: string[]): void {
  if (typeof schema === 'boolean') return;
  const bound = (keyword: string, fails: (limit: number) => boolean): void => {
    const limit = schema[keyword];
    if (typeof limit === 'number' && fails(limit))
      errors.push(`${path}: ${value} fails ${keyword} ${limit}`);
  };
  bound('minimum', (limit) => value < limit);
  bound('maximum', (limit) => value > limit);
  bound('exclusiveMinimum', (limit) => value <= limit);
  bound('exclusiveMaximum', (limit) => value >= limit);
}

function checkArray(schema: Schema, value: unknown[], path: string, context: Context): void {
  if (typeof schema === 'boolean') return;
  if (typeof schema.minItems === 'number' && value.length < schema.minItems) {
    context.errors.push(`${path}: fewer than ${schema.minItems} items`);
  }
  if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) {
    context.errors.push(`${path}: more than ${schema.maxItems} items`);
  }
  const items = schema.items as Schema | undefined;
  if (items === undefined) return;
  value.forEach((item, index) =>
    check(items, item, `${path}[${index}]`, { ...context, sealed: true }),
  );
}

function checkObject(
  schema: Schema,
  value: Record<string, unknown>,
  path: string,
  context: Context,
): void {
  if (typeof schema === 'boolean') return;
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const nested = { ...context, sealed: true };
  for (const name of (schema.required as string[] | undefined) ?? []) {
    if (!Object.hasOwn(value, name)) context.errors.push(`${path}: missing required '${name}'`);
  }
  for (const [name, property] of Object.entries(value)) {
    const where = `${path}.${name}`;
    if (Object.hasOwn(properties, name)) check(properties[name] as Schema, property, where, nested);
    else if (schema.additionalProperties !== undefined) {
      check(schema.additionalProperties as Schema, property, where, nested);
    }
    if (schema.propertyNames !== undefined) {
      check(schema.propertyNames as Schema, name, `${where} (name)`, nested);
    }
  }
  if (
    typeof schema.maxProperties === 'number' &&
    Object.keys(value).length > schema.maxProperties
  ) {
    context.errors.push(`${path}: more than ${schema.maxProperties} properties`);
  }
  if (context.sealed) checkSealed(schema, value, path, context);
}

/** A property that no `properties` at this location lists, through `$ref` and `allOf`. */
function checkSealed(
  schema: Schema,
  value: Record<string, unknown>,
  path: string,
  context: Context,
): void {
  const declared = declaredProperties(schema, context.root);
  if (declared === undefined || declared.size === 0) return;
  for (const name of Object.keys(value)) {
    if (!declared.has(name)) context.errors.push(`${path}: '${name}' is not in the schema`);
  }
}

/** The property names a schema lists; undefined when it allows others explicitly. */
function declaredProperties(schema: Schema, root: unknown): Set<string> | undefined {
  if (typeof schema === 'boolean') return new Set();
  if (schema.additionalProperties !== undefined) return undefined;
  const names = new Set(Object.keys(schema.properties ?? {}));
  const parts = [
    ...(typeof schema.$ref === 'string' ? [resolvePointer(root, schema.$ref) as Schema] : []),
    ...((schema.allOf as Schema[] | undefined) ?? []),
  ];
  for (const part of parts) {
    const more = declaredProperties(part, root);
    if (more === undefined) return undefined;
    for (const name of more) names.add(name);
  }
  return names;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
