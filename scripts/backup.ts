// `npm run backup -- --to DIR`: an online backup of the server's data directory, taken while the
// server runs. The data directory comes from the server's own settings (flags, environment,
// --config), so the backup reads what the server writes. Into DIR: the database through SQLite's
// online backup API (a consistent copy whatever the server commits meanwhile; the server secrets
// are in it), the audit trail cut at the record its signed head names, the audit key (without it
// the trail can neither be verified nor continued), job output unless --no-output, and the
// certificates directory only with --with-certs (it holds the CA's key). Files are 0600,
// directories 0700. The audit trail in the backup is verified before the backup says it is done.
import { createPublicKey } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { backup, DatabaseSync } from 'node:sqlite';
import { auditHeadPath } from '../src/audit/audit-head.ts';
import { listAuditFiles } from '../src/audit/audit-files.ts';
import { auditKeyPath } from '../src/audit/audit-key.ts';
import { decodeRecord } from '../src/audit/audit-record.ts';
import { verifyAuditLog } from '../src/audit/verify-log.ts';
import { loadConfig } from '../src/config.ts';
import type { AuditVerdict } from '../src/contract/audit.ts';
import { OUTPUT_INDEX, OUTPUT_LOG } from '../src/worker/output-stream.ts';
import { OUTPUT_TIMES } from '../src/worker/output-times.ts';

const USAGE = `Usage: npm run backup -- --to DIR [--no-output] [--no-volumes] [--with-certs] [SETTINGS...]

Backs up the server's state while it runs, into DIR (which must not exist, or be empty):
the database (SQLite's online backup), the audit trail and its key, and job output. The data
directory is the server's: the same --data-dir, --certs-dir and --config flags and environment
variables as 'npm start' are read.

  --to DIR        where the backup goes (made 0700; every file in it is 0600)
  --no-output     leave out job output (the jobs' records are kept; reading their output
                  answers that it is unavailable)
  --no-volumes    leave out volume images (there are none yet: accepted for scripts to come)
  --with-certs    also copy the certificates directory, the CA's private key included
  SETTINGS        the server's flags, e.g. --data-dir /var/lib/jobworker or --config FILE

Restore with: npm run restore -- --from DIR --data-dir NEW`;

const OWN_FLAGS = new Set(['--no-output', '--no-volumes', '--with-certs', '--help', '-h']);
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** A rotation between reading the head and reading the log: taken again, this many times. */
const AUDIT_ATTEMPTS = 3;

/** What a backup holds, written to DIR/manifest.json for restore and for people. */
export interface BackupManifest {
  readonly format: 1;
  readonly createdAt: string;
  readonly sourceDataDir: string;
  /** The database's schema version: a release older than this refuses it (SCHEMA_TOO_NEW). */
  readonly schemaVersion: number;
  readonly output: boolean;
  readonly volumes: boolean;
  readonly certs: boolean;
  readonly audit: AuditVerdict;
}

interface BackupOptions {
  readonly to: string;
  readonly output: boolean;
  readonly volumes: boolean;
  readonly certs: boolean;
  readonly settings: string[];
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const options = parseOptions(argv);
  const config = loadConfig(options.settings, process.env);
  await makeEmptyDirectory(options.to);
  const data = join(options.to, 'data');
  await mkdir(data, { mode: DIR_MODE });
  const schemaVersion = await backUpDatabase(
    join(config.dataDir, 'jobworker.db'),
    join(data, 'jobworker.db'),
  );
  // Without output, the supervisors' files still go: they say how each job ended, and a job
  // without them would be taken for one never launched, and queued to run again.
  const skip = options.output
    ? new Set<string>()
    : new Set([OUTPUT_INDEX, OUTPUT_TIMES, OUTPUT_LOG]);
  await copyTree(join(config.dataDir, 'jobs'), join(data, 'jobs'), skip);
  const keyFile = auditKeyPath(config.certsDir);
  const audit = await backUpAuditTrail(join(config.dataDir, 'audit.log'), data, keyFile);
  if (options.certs) await copyTree(config.certsDir, join(options.to, 'certs'));
  else await copyPrivately(keyFile, join(options.to, basename(keyFile)));
  const manifest: BackupManifest = {
    format: 1,
    createdAt: new Date().toISOString(),
    sourceDataDir: config.dataDir,
    schemaVersion,
    output: options.output,
    volumes: options.volumes,
    certs: options.certs,
    audit,
  };
  await writeFile(join(options.to, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: FILE_MODE,
  });
  console.log(`backup: ${options.to}: ${describeAudit(audit)}`);
  if (!audit.ok) {
    console.error(`backup: the audit trail in the backup does not verify: ${audit.reason}`);
    return 1;
  }
  return 0;
}

function parseOptions(argv: string[]): BackupOptions {
  const settings: string[] = [];
  let to: string | undefined;
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    if (arg === '--to') to = argv[(index += 1)];
    else if (arg.startsWith('--to=')) to = arg.slice('--to='.length);
    else if (!OWN_FLAGS.has(arg)) settings.push(arg);
  }
  if (to === undefined || to === '') throw new UsageError('--to DIR is required');
  return {
    to: resolve(to),
    output: !argv.includes('--no-output'),
    volumes: !argv.includes('--no-volumes'),
    certs: argv.includes('--with-certs'),
    settings,
  };
}

class UsageError extends Error {}

/** DIR made 0700, or left as it is if it is an empty directory; anything in it is refused. */
async function makeEmptyDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: DIR_MODE });
  if ((await readdir(path)).length > 0) throw new UsageError(`${path} is not empty`);
  await chmod(path, DIR_MODE);
}

/**
 * SQLite's online backup: pages are copied in steps while the server goes on committing, and a
 * step that meets a commit starts over, so the copy is the database as of one commit.
 */
async function backUpDatabase(source: string, target: string): Promise<number> {
  const db = new DatabaseSync(source, { readOnly: true, timeout: 5000 });
  try {
    await backup(db, target);
  } finally {
    db.close();
  }
  await chmod(target, FILE_MODE);
  const copy = new DatabaseSync(target, { readOnly: true });
  try {
    const row = copy.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
    return row?.user_version ?? 0;
  } finally {
    copy.close();
  }
}

/**
 * The trail as of its signed head: closed files whole, the current file up to the record the
 * head names, and the head. A rotation in between can leave the copy short of a file: the copy
 * is verified with the audit key, and taken again if it does not hold.
 */
async function backUpAuditTrail(
  currentPath: string,
  data: string,
  keyFile: string,
): Promise<AuditVerdict> {
  const publicKey = createPublicKey(await readFile(keyFile, 'utf8'));
  const copy = join(data, basename(currentPath));
  let verdict: AuditVerdict = { ok: true, records: 0, headChecked: false };
  for (let attempt = 1; attempt <= AUDIT_ATTEMPTS; attempt += 1) {
    const head = await readFile(auditHeadPath(currentPath), 'utf8').catch(() => undefined);
    const files = await listAuditFiles(currentPath);
    for (const file of files) {
      const target = join(data, basename(file.path));
      if (file.firstSeq !== undefined) await copyPrivately(file.path, target);
      else await copyRecordsUpTo(file.path, target, head === undefined ? 0 : headSeq(head));
    }
    if (head === undefined) return { ok: true, records: 0, headChecked: false };
    await writeFile(auditHeadPath(copy), head, { mode: FILE_MODE });
    verdict = await verifyAuditLog(copy, publicKey);
    if (verdict.ok) return verdict;
  }
  return verdict;
}

/** The sequence number a signed head names (its signature is checked with the copy). */
function headSeq(headJws: string): number {
  return decodeRecord(headJws.trim()).seq;
}

/** The file's lines up to the record numbered `lastSeq`, at most: a record boundary. */
async function copyRecordsUpTo(source: string, target: string, lastSeq: number): Promise<void> {
  const out = await open(target, 'w', FILE_MODE);
  const input = createReadStream(source);
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line === '' || decodeRecord(line).seq > lastSeq) break;
      await out.write(`${line}\n`);
    }
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
  } finally {
    input.destroy();
    await out.close();
  }
}

/**
 * A directory's regular files and subdirectories, 0600 and 0700. Named pipes (a running job's
 * supervisor's) and sockets are left out: they mean nothing without the process at the other end.
 * A job's output index and times are copied before its log, so the log holds all they count.
 */
async function copyTree(
  source: string,
  target: string,
  skip: ReadonlySet<string> = new Set(),
): Promise<void> {
  let entries;
  try {
    entries = await readdir(source, { withFileTypes: true });
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return;
    throw error;
  }
  await mkdir(target, { mode: DIR_MODE });
  entries.sort((a, b) => copyOrder(a.name) - copyOrder(b.name));
  for (const entry of entries) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory()) await copyTree(from, to, skip);
    else if (entry.isFile() && !skip.has(entry.name)) await copyPrivately(from, to);
  }
}

/** The files that say how far the log goes come before it: it then holds all they count. */
const COPY_ORDER: readonly string[] = [OUTPUT_INDEX, OUTPUT_TIMES, OUTPUT_LOG];

function copyOrder(name: string): number {
  const at = COPY_ORDER.indexOf(name);
  return at < 0 ? COPY_ORDER.length : at;
}

async function copyPrivately(source: string, target: string): Promise<void> {
  await copyFile(source, target);
  await chmod(target, FILE_MODE);
}

function describeAudit(verdict: AuditVerdict): string {
  if (!verdict.ok) return `audit trail copied; ${verdict.file} line ${verdict.line} is bad`;
  const start = verdict.startsAfter === undefined ? '' : ` after record ${verdict.startsAfter}`;
  return `database, audit trail (${verdict.records} records${start}, intact) and key copied`;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`backup: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof UsageError) console.error(`\n${USAGE}`);
  process.exitCode = 2;
}
