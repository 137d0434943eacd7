// The audit trail's files and their names, in one place: `audit.log` is always the file being
// appended to; once it reaches the rotation size it is closed and renamed
// `audit-<first sequence number>.log` (twelve digits, so that names sort as the chain runs), and
// a new `audit.log` goes on from the next record. Closed files are never written again: an
// operator may ship them away and delete them, oldest first.
import { readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

/** One file of the trail: closed ones in chain order, then the current one. */
export interface AuditFile {
  readonly path: string;
  /** The sequence number its name says it starts at; undefined for the current file. */
  readonly firstSeq: number | undefined;
}

const SEQ_DIGITS = 12;

/** The name a closed file gets: the current file's name with its first sequence number. */
export function closedAuditPath(currentPath: string, firstSeq: number): string {
  const extension = extname(currentPath);
  const stem = basename(currentPath, extension);
  const seq = String(firstSeq).padStart(SEQ_DIGITS, '0');
  return join(dirname(currentPath), `${stem}-${seq}${extension}`);
}

/** Every file of the trail that is present, oldest first, the current one last. */
export async function listAuditFiles(currentPath: string): Promise<AuditFile[]> {
  const directory = dirname(currentPath);
  const extension = extname(currentPath);
  const stem = basename(currentPath, extension);
  const pattern = new RegExp(
    `^${escapeRegExp(stem)}-(\\d{${SEQ_DIGITS}})${escapeRegExp(extension)}$`,
  );
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') names = [];
    else throw error;
  }
  const closed = names
    .map((name) => ({ name, match: pattern.exec(name) }))
    .filter((entry) => entry.match !== null)
    .map(({ name, match }) => ({ path: join(directory, name), firstSeq: Number(match?.[1]) }))
    .sort((a, b) => a.firstSeq - b.firstSeq);
  return [...closed, { path: currentPath, firstSeq: undefined }];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
