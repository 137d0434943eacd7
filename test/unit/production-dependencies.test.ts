// A production install (`npm ci --omit=dev`, docs/operations.md) has only package.json's
// "dependencies": what the server, jobctl, the install scripts and the operator's npm scripts load
// must be among them, or be Node's own. Read from the sources' import lines, following relative
// imports from each entry point, so a development tool imported by the server fails here rather
// than on a production host.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/server.ts';

/** What runs on a production host: `npm start`, bin/jobctl, postinstall, certs, audit, images. */
const ENTRY_POINTS = [
  'src/server.ts',
  'bin/jobworker.js',
  'bin/jobctl.js',
  'scripts/warm-compile-cache.ts',
  'scripts/install-system-packages.ts',
  'scripts/build-shim.ts',
  'scripts/certs.ts',
  'scripts/audit.ts',
  'scripts/images.ts',
];

/** Development packages a production module may try, and copes without (in that module only). */
const OPTIONAL: Readonly<Record<string, string>> = {
  // Readable log lines at a terminal; JSON without it.
  'pino-pretty': 'src/logger.ts',
};

/** The specifiers a file loads when it runs: not `import type`, lazy `import()` included. */
function runtimeSpecifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const statements = [
    // Between `import` and `from` only names, braces and commas: a usage text that says
    // "import NAME FILE.tar (e.g. from 'docker export')" is not an import.
    ...text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[\w\s{},*$]*?\bfrom\s*)?'([^']+)'/gm),
  ]
    .filter((match) => match[1] === undefined)
    .map((match) => match[2] ?? '');
  const lazy = [...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((match) => match[1] ?? '');
  return [...statements, ...lazy];
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Every package the entry points load, with the first file that loads it. */
function packagesLoaded(): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const pending = ENTRY_POINTS.map((entry) => join(ROOT, entry));
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of runtimeSpecifiers(file)) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (/\.[jt]s$/.test(target)) pending.push(target);
      } else if (!isBuiltin(specifier)) {
        const name = packageOf(specifier);
        if (!packages.has(name)) packages.set(name, relative(ROOT, file));
      }
    }
  }
  assert.ok(seen.size > 100, `the walk reached ${seen.size} files`);
  return packages;
}

describe('a production install', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  it('has every package that the server, jobctl and the scripts it runs load', () => {
    const missing = [...packagesLoaded()]
      .filter(([name, file]) => !(name in manifest.dependencies) && OPTIONAL[name] !== file)
      .map(([name, file]) => `${name} (loaded by ${file})`);
    assert.deepEqual(missing, []);
  });

  it('keeps pretty logs, the linters and the test tools out of it', () => {
    const tools = ['pino-pretty', 'eslint', 'typescript', 'playwright-core', '@redocly/cli'];
    for (const name of [...tools, 'esbuild', 'postject']) {
      assert.ok(name in manifest.devDependencies, `${name} is a development dependency`);
      assert.ok(!(name in manifest.dependencies), `${name} is not a dependency`);
    }
  });
});
