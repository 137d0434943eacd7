// `npm run restore -- --from DIR --data-dir NEW`: puts a backup made by `npm run backup` into a
// new data directory, for a server started on it afterwards. It refuses a data directory that is
// not empty, so it never mixes a backup with live state. The audit key goes into the
// certificates directory (--certs-dir, or the server's setting) unless one is there already:
// a different key there is refused, since the restored trail would not verify under it. A backup
// made --with-certs restores the whole certificates directory, which must then be empty.
import { chmod, copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { auditKeyPath } from '../src/audit/audit-key.ts';
import { loadConfig } from '../src/config.ts';
import type { BackupManifest } from './backup.ts';

const USAGE = `Usage: npm run restore -- --from DIR --data-dir NEW [--certs-dir CERTS]

Restores a backup made by 'npm run backup' into NEW, which must not exist or be empty; start
the server on it afterwards (npm start -- --data-dir NEW). The audit key is put into CERTS
(default: the server's certificates directory, as 'npm start' would read it) unless the same
key is there; a backup made --with-certs restores the whole certificates directory into CERTS,
which must then be empty or absent.`;

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' },
      'data-dir': { type: 'string' },
      'certs-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.from === undefined || values['data-dir'] === undefined) {
    throw new UsageError('--from DIR and --data-dir NEW are required');
  }
  const from = resolve(values.from);
  const dataDir = resolve(values['data-dir']);
  const certsDir = resolve(values['certs-dir'] ?? loadConfig([], process.env).certsDir);
  const manifest = JSON.parse(
    await readFile(join(from, 'manifest.json'), 'utf8'),
  ) as BackupManifest;
  if (manifest.format !== 1) throw new UsageError(`${from}: unknown backup format`);
  await claimEmptyDirectory(dataDir);
  if (manifest.certs) {
    await claimEmptyDirectory(certsDir);
    await copyTree(join(from, 'certs'), certsDir);
  } else {
    await restoreAuditKey(join(from, 'audit-key.pem'), auditKeyPath(certsDir));
  }
  await copyTree(join(from, 'data'), dataDir);
  const output = manifest.output ? 'with job output' : 'without job output (--no-output)';
  console.log(
    `restore: ${dataDir}: the backup of ${manifest.createdAt} (${output}); start the server with --data-dir ${dataDir}`,
  );
  return 0;
}

/** The directory, made 0700 if absent; refused if anything is in it. */
async function claimEmptyDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: DIR_MODE });
  if ((await readdir(path)).length > 0) {
    throw new UsageError(`${path} is not empty: restore only into a new directory`);
  }
  await chmod(path, DIR_MODE);
}

async function restoreAuditKey(source: string, target: string): Promise<void> {
  const key = await readFile(source, 'utf8');
  const present = await readFile(target, 'utf8').catch(() => undefined);
  if (present === key) return;
  if (present !== undefined) {
    throw new UsageError(
      `${target} is another audit key: the restored audit trail would not verify under it`,
    );
  }
  await mkdir(resolve(target, '..'), { recursive: true, mode: DIR_MODE });
  await copyPrivately(source, target);
}

async function copyTree(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true, mode: DIR_MODE });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory()) await copyTree(from, to);
    else if (entry.isFile()) await copyPrivately(from, to);
  }
}

async function copyPrivately(source: string, target: string): Promise<void> {
  await copyFile(source, target);
  await chmod(target, FILE_MODE);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`restore: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof UsageError) console.error(`\n${USAGE}`);
  process.exitCode = 2;
}
