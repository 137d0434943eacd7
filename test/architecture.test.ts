// The layers point one way. Each directory of src/ may import only from the ones listed for it,
// and no module imports itself back through others (a cycle). Read from the sources' own import
// lines, type imports and lazy `import()` included, so a new file cannot slip an upward
// dependency in unnoticed.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './helpers/server.ts';

const SRC = join(ROOT, 'src');

/**
 * Who may import whom, lowest first. `errors.ts`, `util/` and `jobs/` (the job vocabulary) are
 * below everything; `server.ts` and `config.ts` compose the rest and are imported by nothing
 * but each other (and `cli/` by nobody in the server).
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'errors.ts': [],
  util: ['errors.ts'],
  jobs: ['errors.ts', 'util'],
  pki: ['errors.ts', 'util'],
  policy: ['errors.ts', 'util', 'jobs', 'pki'],
  store: ['errors.ts', 'util', 'jobs'],
  launcher: ['errors.ts', 'util', 'jobs', 'pki'],
  worker: ['errors.ts', 'util', 'jobs', 'launcher', 'store'],
  audit: ['errors.ts', 'util', 'jobs', 'pki', 'worker', 'tls'],
  metrics: ['errors.ts', 'util', 'jobs', 'worker'],
  tls: ['errors.ts', 'util', 'pki'],
  api: ['errors.ts', 'util', 'jobs', 'pki', 'policy', 'worker', 'audit', 'tls', 'metrics'],
  'logger.ts': [],
  'config.ts': ['errors.ts', 'util', 'jobs', 'pki', 'policy', 'launcher'],
  'server.ts': ['*'],
  // The CLI is a client of the HTTP API: of the server's modules it uses only the PKI's.
  cli: ['errors.ts', 'util', 'pki'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The src/ files a file imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map(
    (match) => match[1] ?? '',
  );
  return specifiers
    .map((specifier) => resolve(dirname(file), specifier))
    .filter((target) => target.startsWith(SRC));
}

/** The layer of a file: its top directory under src/, or its name for a top-level file. */
function layerOf(file: string): string {
  const [first] = relative(SRC, file).split('/');
  return first ?? '';
}

describe('the layers of src/', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((file) => [file, importsOf(file)]));

  it('has a rule for every layer', () => {
    const layers = new Set(files.map(layerOf));
    for (const layer of layers) assert.ok(layer in MAY_IMPORT, `no rule for src/${layer}`);
  });

  it('imports only downwards', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file);
      const allowed = MAY_IMPORT[from] ?? [];
      for (const target of targets) {
        const to = layerOf(target);
        if (to === from || allowed.includes('*') || allowed.includes(to)) continue;
        wrong.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('has no import cycle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        const start = path.indexOf(file);
        cycles.push([...path.slice(start), file].map((f) => relative(SRC, f)).join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
