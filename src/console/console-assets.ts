// The console's files, read once when the server starts: a handful of small files that every
// page load asks for, and that only an upgrade (which restarts the server) changes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
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
  const page = asset(readFileSync(join(UI_DIR, 'index.html')), 'text/html; charset=utf-8');
  return { page, assets };
}

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
