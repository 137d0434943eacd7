// Copies a TypeScript module graph as JavaScript, types stripped by Node's own
// `module.stripTypeScriptTypes` and relative `.ts` imports renamed `.js`. It shows, within bench/,
// what jobctl would gain from shipping JavaScript: Node then never loads its TypeScript stripper
// (a WebAssembly build of swc, ~70 ms) nor strips a module, cache or no cache.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

/** A relative import or export specifier that names a .ts file, in static or dynamic form. */
const RELATIVE_TS = /(['"])(\.{1,2}\/[^'"\n]+?)\.ts\1/g;

/**
 * Writes the JavaScript of `entry` and of every module it reaches through relative imports under
 * `outDir`, keeping their paths relative to `root`. Returns the path of the entry's copy.
 */
export function stripModuleGraph(entry: string, root: string, outDir: string): string {
  const pending = [resolve(entry)];
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(RELATIVE_TS)) {
      pending.push(resolve(dirname(file), `${match[2]}.ts`));
    }
    const javascript = quietly(() => stripTypeScriptTypes(source, { mode: 'strip' })).replace(
      RELATIVE_TS,
      (_text, quote: string, path: string) => `${quote}${path}.js${quote}`,
    );
    const target = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, javascript);
  }
  // Without it Node would first try the .js files as CommonJS.
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  return join(outDir, relative(root, resolve(entry))).replace(/\.ts$/, '.js');
}

/**
 * Runs `fn` without Node's "stripTypeScriptTypes is an experimental feature" warning, which would
 * otherwise land in the middle of the bench's output. The warning is emitted synchronously from
 * inside the call, so restoring emitWarning afterwards lets every other warning through.
 */
function quietly<T>(fn: () => T): T {
  // Restored as it was: the same function object, still bound by the process it belongs to.
  const descriptor = Object.getOwnPropertyDescriptor(process, 'emitWarning');
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = (warning: string | Error, ...rest: unknown[]): void => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (!text.includes('stripTypeScriptTypes')) emitWarning(warning, ...rest);
  };
  try {
    return fn();
  } finally {
    if (descriptor === undefined) Reflect.deleteProperty(process, 'emitWarning');
    else Object.defineProperty(process, 'emitWarning', descriptor);
  }
}
