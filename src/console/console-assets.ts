// The console's files, read once when the server starts: a handful of small files that every
// page load asks for, and that only an upgrade (which restarts the server) changes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { ATTACH_PROTOCOL, CHANNEL } from '../contract/attach-channels.ts';
import { ENDED_STATUSES, JOB_STATUSES } from '../jobs/job-status.ts';

export interface ConsoleAsset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const UI_DIR = join(import.meta.dirname, 'ui');

const JAVASCRIPT = 'text/javascript; charset=utf-8';

/** What may be served, by extension; the tsconfig that type-checks the browser code is not. */
const TYPES: Readonly<Record<string, string>> = {
  '.js': JAVASCRIPT,
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export function loadConsoleAssets(): {
  page: ConsoleAsset;
  assets: ReadonlyMap<string, ConsoleAsset>;
} {
  const assets = new Map<string, ConsoleAsset>();
  for (const name of readdirSync(UI_DIR)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, asset(readFileSync(join(UI_DIR, name)), type));
  }
  // The server's own constants, as modules, so the console cannot drift from them (each has a
  // .d.ts beside the browser code that types it).
  assets.set('job-status.js', asset(Buffer.from(jobStatusModule()), JAVASCRIPT));
  assets.set('attach-channels.js', asset(Buffer.from(attachChannelsModule()), JAVASCRIPT));
  for (const [name, vendored] of Object.entries(VENDORED)) {
    assets.set(name, asset(vendored.body(), vendored.type));
  }
  const page = asset(readFileSync(join(UI_DIR, 'index.html')), 'text/html; charset=utf-8');
  return { page, assets };
}

const require = createRequire(import.meta.url);

/** A package's file, found through node_modules as Node finds the package. */
function packageFile(name: string, path: string): Buffer {
  return readFileSync(join(dirname(require.resolve(`${name}/package.json`)), path));
}

/**
 * Libraries the console uses, served from node_modules as their authors publish them (pinned
 * in package-lock.json; no copy in the tree to fall behind): anser, which turns ANSI colour
 * sequences into plain data the console makes text nodes of, and xterm.js, the terminal of
 * `tty` jobs (loaded only when one is opened: it is most of a megabyte with its map).
 */
const VENDORED: Readonly<Record<string, { type: string; body: () => Buffer }>> = {
  // anser is published as CommonJS only: given a `module` to fill, it is an ES module.
  'anser.js': {
    type: JAVASCRIPT,
    body: () =>
      Buffer.concat([
        Buffer.from('const module = { exports: {} };\n'),
        packageFile('anser', 'lib/index.js'),
        Buffer.from('\nexport default module.exports;\n'),
      ]),
  },
  'xterm.js': { type: JAVASCRIPT, body: () => packageFile('@xterm/xterm', 'lib/xterm.mjs') },
  'xterm.css': {
    type: 'text/css; charset=utf-8',
    body: () => packageFile('@xterm/xterm', 'css/xterm.css'),
  },
};

function asset(body: Buffer, type: string): ConsoleAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { body, type, etag };
}

function jobStatusModule(): string {
  return moduleOf({ JOB_STATUSES, ENDED_STATUSES: [...ENDED_STATUSES] });
}

function attachChannelsModule(): string {
  return moduleOf({ ATTACH_PROTOCOL, CHANNEL });
}

function moduleOf(constants: Readonly<Record<string, unknown>>): string {
  return Object.entries(constants)
    .map(([name, value]) => `export const ${name} = ${JSON.stringify(value)};\n`)
    .join('');
}
