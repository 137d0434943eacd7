// The console's files, read once when the server starts: a handful of small files that every
// page load asks for, and that only an upgrade (which restarts the server) changes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { ENDED_STATUSES, JOB_STATUSES } from '../jobs/job-status.ts';

export interface ConsoleAsset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const UI_DIR = join(import.meta.dirname, 'ui');

/** What may be served, by extension; the tsconfig that type-checks the browser code is not. */
const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
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
  assets.set('job-status.js', asset(Buffer.from(jobStatusModule()), TYPES['.js'] ?? ''));
  const page = asset(readFileSync(join(UI_DIR, 'index.html')), 'text/html; charset=utf-8');
  return { page, assets };
}

function asset(body: Buffer, type: string): ConsoleAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { body, type, etag };
}

/** The server's own list of statuses as a module for the browser (ui/job-status.d.ts types it). */
function jobStatusModule(): string {
  return [
    `export const JOB_STATUSES = ${JSON.stringify(JOB_STATUSES)};`,
    `export const ENDED_STATUSES = ${JSON.stringify([...ENDED_STATUSES])};`,
    '',
  ].join('\n');
}
