// The layers point one way. Each directory of src/ may import only from the ones listed for it,
// and no module imports itself back through others (a cycle). Read from the sources' own import
// lines, type imports and lazy `import()` included, so a new file cannot slip an upward
// dependency in unnoticed. jobctl takes its wire types from the server's contract but loads none
// of it when it runs: that is checked here too. Beside the layers: no file under src/ or native/
// grows past 600 lines, and one module names the files of a job's directory.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { JOB_FILE_NAMES } from '../src/jobs/job-directory.ts';
import { ROOT } from './helpers/server.ts';

const SRC = join(ROOT, 'src');
const NATIVE = join(ROOT, 'native');

/**
 * Who may import whom, lowest first. `errors.ts`, `util/` and `jobs/` (the job vocabulary) are
 * below everything; `server.ts` and `config.ts` compose the rest and are imported by nothing
 * but each other (and `cli/` by nobody in the server).
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'errors.ts': [],
  // The release, from package.json: the server and jobctl both say it.
  'version.ts': [],
  util: ['errors.ts'],
  jobs: ['errors.ts', 'util'],
  pki: ['errors.ts', 'util'],
  // The API's wire format (request and answer schemas, queries, problem codes), made of the job
  // vocabulary: below every layer that speaks it (the audit log signs its records).
  contract: ['errors.ts', 'util', 'jobs', 'pki'],
  policy: ['errors.ts', 'util', 'jobs', 'pki'],
  store: ['errors.ts', 'util', 'jobs'],
  launcher: ['errors.ts', 'util', 'jobs', 'pki'],
  worker: ['errors.ts', 'util', 'jobs', 'launcher', 'store'],
  // A client's volumes: their images, mounts, budgets and archives, below HTTP (issue 34).
  volumes: ['errors.ts', 'util', 'jobs', 'store'],
  audit: ['errors.ts', 'util', 'jobs', 'pki', 'contract'],
  metrics: ['errors.ts', 'util', 'jobs', 'version.ts'],
  tls: ['errors.ts', 'util', 'pki'],
  api: [
    'errors.ts',
    'util',
    'jobs',
    'pki',
    'contract',
    'policy',
    'worker',
    'audit',
    'tls',
    'metrics',
    'version.ts',
    'volumes',
  ],
  // The web console: files for the browser, which talks to the API like any client.
  console: ['jobs', 'contract'],
  'logger.ts': [],
  // Shipping log lines and audit records to a syslog collector: below everything but the server.
  logging: ['errors.ts', 'util'],
  // The settings: their table, where their values come from, the checks of one value, their
  // words; config.ts turns them into the server's Config.
  config: ['errors.ts', 'util', 'jobs'],
  'config.ts': ['errors.ts', 'util', 'jobs', 'pki', 'policy', 'config'],
  'server.ts': ['*'],
  // The CLI is a client of the HTTP API: of the server's modules it runs only the PKI's, the
  // status list, the attach channels, the output's frames and trailers, and the release; from
  // `jobs/` and `contract/` it takes types, which are erased (checked below).
  cli: ['errors.ts', 'util', 'pki', 'jobs', 'contract', 'version.ts'],
};

/**
 * Imports that point the wrong way in meaning, each with where what it wanted lives instead.
 * MAY_IMPORT already leaves them out; they are named here so that loosening a layer's list cannot
 * let one back in unnoticed. Type-only imports count: a type is a dependency of meaning too.
 */
const FORBIDDEN: readonly { readonly from: string; readonly to: string; readonly why: string }[] = [
  {
    from: 'audit',
    to: 'worker',
    why: "the audit trail records the registry's events, which jobs/job-events.ts names",
  },
  {
    from: 'audit',
    to: 'tls',
    why: 'a refused TLS client is pki/tls-refusal.ts, below both the door and its record',
  },
  {
    from: 'metrics',
    to: 'worker',
    why: 'metrics are fed by plain hooks: jobs/job-events.ts names them, metrics the sources it reads',
  },
  {
    from: 'config.ts',
    to: 'launcher',
    why: 'what a setting shares with the launcher (the sandbox binds) is in jobs/',
  },
  {
    from: 'config',
    to: 'launcher',
    why: 'what a setting shares with the launcher (the sandbox binds) is in jobs/',
  },
  {
    from: 'api',
    to: 'console',
    why: 'the console is a client of the API, mounted beside it by server.ts',
  },
];

/** The most lines a file under src/ or native/ may have: past it, split it by concern. */
const MAX_LINES = 600;

/** The one module that names the files of a job's directory. */
const JOB_DIRECTORY_MODULE = join(SRC, 'jobs', 'job-directory.ts');

/** The modules of `jobs/` and `contract/` jobctl may load when it runs: they have no imports. */
const STATUS_LIST = join(SRC, 'jobs', 'job-status.ts');
const RUN_TIME_SHARED = [
  STATUS_LIST,
  join(SRC, 'contract', 'attach-channels.ts'),
  join(SRC, 'contract', 'multiplexed-stream.ts'),
  join(SRC, 'contract', 'job-trailers.ts'),
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every file under a directory, whatever its kind (C, TypeScript, the console's files). */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? allFiles(path) : [path];
  });
}

/** Lines as `wc -l` counts them. */
function lineCount(file: string): number {
  const text = readFileSync(file, 'utf8');
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/**
 * The text of every string literal and template part of a script, comments left out: parsed, so
 * a file name in a comment or a quote inside a regular expression cannot mislead it.
 */
function stringLiteralsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const literals: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) literals.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return literals;
}

/** Whether a literal spells a file name: whole, or as part of a path (`${dir}/status.json.tmp`). */
function spells(literal: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\w.-])${escaped}(?![\\w-])`).test(literal);
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

/**
 * What a file loads when it runs: the specifiers of its import and export statements that are
 * not `import type` or `export type` (erased), and of its lazy `import()`s. An inline
 * `import { type X }` still loads the module (verbatimModuleSyntax), so it counts.
 */
function runtimeSpecifiersOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const statements = [
    ...text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\bfrom\s*)?'([^']+)'/gm),
  ]
    .filter((match) => match[1] === undefined)
    .map((match) => match[2] ?? '');
  const lazy = [...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((match) => match[1] ?? '');
  return [...statements, ...lazy];
}

/** The src/ files a file loads when it runs. */
function runtimeImportsOf(file: string): string[] {
  return runtimeSpecifiersOf(file)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => resolve(dirname(file), specifier));
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

  for (const { from, to, why } of FORBIDDEN) {
    const fromName = from.endsWith('.ts') ? from : `${from}/`;
    it(`has no import from ${fromName} into ${to}/, type-only included (${why})`, () => {
      assert.ok(
        !(MAY_IMPORT[from] ?? []).includes(to),
        `MAY_IMPORT lets ${fromName} import ${to}/`,
      );
      const wrong = [...graph]
        .filter(([file]) => layerOf(file) === from)
        .flatMap(([file, targets]) =>
          targets
            .filter((target) => layerOf(target) === to)
            .map((target) => `${relative(SRC, file)} -> ${relative(SRC, target)}`),
        );
      assert.deepEqual(wrong, []);
    });
  }

  it('lets jobctl load nothing of jobs/ and contract/ but its plain-data modules', () => {
    const wrong: string[] = [];
    for (const file of files.filter((candidate) => layerOf(candidate) === 'cli')) {
      for (const target of runtimeImportsOf(file)) {
        if (!['jobs', 'contract'].includes(layerOf(target)) || RUN_TIME_SHARED.includes(target)) {
          continue;
        }
        wrong.push(`${relative(SRC, file)} -> ${relative(SRC, target)}: use \`import type\``);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('loads no zod when jobctl runs', () => {
    // Every module jobctl can load, from every file of cli/ through their run-time imports.
    const reached = new Set<string>();
    const pending = files.filter((file) => layerOf(file) === 'cli');
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (reached.has(file)) continue;
      reached.add(file);
      pending.push(...runtimeImportsOf(file));
    }
    const loadingZod = [...reached].filter((file) => runtimeSpecifiersOf(file).includes('zod'));
    assert.deepEqual(
      loadingZod.map((file) => relative(SRC, file)),
      [],
    );
    assert.ok(reached.has(STATUS_LIST), 'the walk reaches what jobctl imports');
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

describe('the size of a file', () => {
  it(`keeps every file under src/ and native/ within ${MAX_LINES} lines`, () => {
    const long = [...allFiles(SRC), ...allFiles(NATIVE)]
      .map((file) => ({ file: relative(ROOT, file), lines: lineCount(file) }))
      .filter(({ lines }) => lines > MAX_LINES);
    assert.deepEqual(
      long,
      [],
      `over ${MAX_LINES} lines, to split by concern: ` +
        long.map(({ file, lines }) => `${file} (${lines})`).join(', '),
    );
  });
});

describe('the job directory', () => {
  const names = Object.values(JOB_FILE_NAMES);

  it('names its files in one module, src/jobs/job-directory.ts', () => {
    const scripts = allFiles(SRC).filter(
      (file) => /\.(ts|js)$/.test(file) && file !== JOB_DIRECTORY_MODULE,
    );
    // Only a file whose text holds a name at all is parsed: the rest cannot spell one.
    const suspects = scripts.filter((file) => {
      const text = readFileSync(file, 'utf8');
      return names.some((name) => text.includes(name));
    });
    const wrong = suspects.flatMap((file) =>
      stringLiteralsOf(file).flatMap((literal) =>
        names
          .filter((name) => spells(literal, name))
          .map((name) => `${relative(SRC, file)} spells '${name}': use jobs/job-directory.ts`),
      ),
    );
    assert.deepEqual(wrong, []);
  });

  it('is read for names the rule would find', () => {
    assert.ok(names.includes('status.json') && names.includes('output.log'));
    assert.ok(spells('`${dir}/status.json.tmp`', 'status.json'));
    assert.ok(!spells('job.envNames', 'job.env'));
  });
});
