// Validates real requests and answers against the OpenAPI document with ajv (JSON Schema
// 2020-12, as OpenAPI 3.1 uses), in strict mode: a keyword ajv does not know, `required` without
// `properties` or `properties` without `type` is an error in the document, not a skipped check.
//
// Objects are checked *sealed*: an object schema that lists `properties` and says nothing of
// further ones gets `unevaluatedProperties: false` here. The published document stays open to
// additions, but the server cannot send a field the document does not describe.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export type Schema = { readonly [keyword: string]: unknown } | boolean;

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

const DOCUMENT_ID = 'https://jobworker.invalid/openapi.json';

export class ContractValidator {
  readonly #ajv: Ajv2020;
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor(document: { readonly components?: unknown }) {
    this.#ajv = new Ajv2020({ strict: true, allErrors: true, strictRequired: true });
    addFormats.default(this.#ajv);
    // The document is not a schema; its components are, each reachable by its local pointer.
    this.#ajv.addKeyword({ keyword: 'components', schemaType: 'object' });
    this.#ajv.addSchema({ $id: DOCUMENT_ID, components: sealed(document.components) });
  }

  /** Compiles every component schema: throws on any the strict mode refuses. */
  compileComponents(names: readonly string[]): void {
    for (const name of names) this.#validator({ $ref: `#/components/schemas/${name}` });
  }

  /** Every way `value` fails `schema`, each as `path: reason`; empty when it conforms. */
  validate(schema: Schema, value: unknown): string[] {
    const check = this.#validator(schema);
    if (check(value)) return [];
    return (check.errors ?? []).map(
      (error) =>
        `$${error.instancePath}: ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`,
    );
  }

  #validator(schema: Schema): ValidateFunction {
    const key = JSON.stringify(schema);
    let check = this.#compiled.get(key);
    if (check === undefined) {
      // Local references point into the document, whose components were added above.
      check = this.#ajv.compile(sealed(rebase(schema)) as object);
      this.#compiled.set(key, check);
    }
    return check;
  }
}

/** A copy in which every `#/...` reference points into the document added to ajv. */
function rebase(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebase);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#')
        ? `${DOCUMENT_ID}${value}`
        : rebase(value),
    ]),
  );
}

/**
 * A copy in which each object schema with `properties` and no word on others is sealed, and so is
 * each `allOf` as a whole (its members are not: each lists only its own share of the properties).
 */
function sealed(node: unknown, allOfMember = false): unknown {
  if (Array.isArray(node)) return node.map((item) => sealed(item, allOfMember));
  if (node === null || typeof node !== 'object') return node;
  const copy = Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, sealed(value, key === 'allOf')]),
  );
  const type = copy.type;
  const isObject = type === 'object' || (Array.isArray(type) && type.includes('object'));
  const open = 'additionalProperties' in copy || 'unevaluatedProperties' in copy;
  if (!open && isObject && (('properties' in copy && !allOfMember) || 'allOf' in copy)) {
    copy.unevaluatedProperties = false;
  }
  return copy;
}
