// Writes a certificate and its private key to disk so that the key is never readable by
// others, not even briefly, and a crash never leaves a truncated file in place.

import { randomBytes } from 'node:crypto';
import { access, chmod, link, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IssuedCredential } from './certificates.ts';
import { PkiError } from './errors.ts';
import type { CredentialPaths } from './layout.ts';

const CERT_MODE = 0o644;
const KEY_MODE = 0o600;
const PRIVATE_DIR_MODE = 0o700;

export type WriteCredentialOptions = {
  /** When false (the default), refuses with PKI_EXISTS rather than replace either file. */
  overwrite?: boolean;
};

/**
 * The key is written before the certificate, so a certificate on disk implies its key is
 * complete; callers rely on this to make the certificate the "commit" marker.
 */
export async function writeCredential(
  paths: CredentialPaths,
  credential: IssuedCredential,
  options: WriteCredentialOptions = {},
): Promise<void> {
  const overwrite = options.overwrite ?? false;
  if (!overwrite) {
    await assertAbsent(paths.key);
    await assertAbsent(paths.cert);
  }
  await writeFileAtomically(paths.key, credential.keyPem, KEY_MODE, overwrite);
  await writeFileAtomically(paths.cert, credential.certPem, CERT_MODE, overwrite);
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return false;
    throw error;
  }
}

/** Creates (if needed) a directory only its owner can enter, and tightens it if it exists. */
export async function ensurePrivateDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
    await chmod(path, PRIVATE_DIR_MODE);
  } catch (error) {
    throw new PkiError('PKI_WRITE_FAILED', `could not create private directory ${path}`, {
      cause: error,
    });
  }
}

/** Replaces (or, without overwrite, creates) a file so readers see the old or the new one. */
export async function writeFileAtomically(
  path: string,
  contents: string | Uint8Array,
  mode: number,
  overwrite = true,
): Promise<void> {
  // Same directory as the target, so the final rename/link never crosses file systems.
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // 'wx' creates the file with `mode` from the start; the umask can only narrow it, and
    // the chmod then makes it exact (e.g. certificates stay 0644 under a strict umask).
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.chmod(mode);
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await publish(temp, path, overwrite);
    await syncDirectory(dirname(path));
  } catch (error) {
    if (error instanceof PkiError) throw error;
    throw new PkiError('PKI_WRITE_FAILED', `could not write ${path}`, { cause: error });
  } finally {
    await rm(temp, { force: true });
  }
}

/** rename replaces atomically; link fails atomically if the target appeared meanwhile. */
async function publish(temp: string, path: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(temp, path);
    return;
  }
  try {
    await link(temp, path);
  } catch (error) {
    if (isErrnoCode(error, 'EEXIST')) throw existsError(path);
    throw error;
  }
}

async function assertAbsent(path: string): Promise<void> {
  try {
    await access(path);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return;
    throw new PkiError('PKI_WRITE_FAILED', `could not check whether ${path} exists`, {
      cause: error,
    });
  }
  throw existsError(path);
}

/** Makes the rename itself durable; best effort, as not every file system supports it. */
async function syncDirectory(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the directory entry is a bonus; the data itself was already synced.
  }
}

function existsError(path: string): PkiError {
  return new PkiError(
    'PKI_EXISTS',
    `refusing to overwrite: expected no file at ${path}, found one`,
  );
}

function isErrnoCode(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}
