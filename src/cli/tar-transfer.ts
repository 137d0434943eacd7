// Files into and out of a volume as tar streams (PUT and GET /v1/volumes/{name}/archive), as
// `docker cp` moves them: a directory as its content, through the local `tar` (a child process
// given an argv array, never a shell line), and a file as itself, in a one-entry tar written
// here so that it can take the name the user gave it. Everything streams with back-pressure
// through node:stream pipelines: neither side is ever whole in memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { basename, dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CliError, UsageError } from './errors.ts';
import type { ApiClient } from './http-client.ts';

export const TAR_MEDIA_TYPE = 'application/x-tar';

/** A place in a volume: `VOL:/path` on jobctl's command line. */
export interface VolumePath {
  readonly volume: string;
  readonly path: string;
}

/** The label rules' names (the server's): what may stand before the colon of `VOL:/path`. */
const REMOTE = /^([A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?):(\/.*)?$/;

/** `VOL:/path` (`VOL:` alone is its root), or undefined for a local path (`./a:b` is one). */
export function volumePathOf(argument: string): VolumePath | undefined {
  const match = REMOTE.exec(argument);
  if (match === null) return undefined;
  return { volume: match[1] ?? '', path: posix.normalize(match[2] ?? '/') };
}

function archiveUrl({ volume, path }: VolumePath): string {
  const query = new URLSearchParams({ path }).toString();
  return `/v1/volumes/${encodeURIComponent(volume)}/archive?${query}`;
}

/**
 * Sends `local` into the volume: a directory's content unpacked at `to.path` (made if missing),
 * a file as `to.path` (or into it, when it ends with `/`).
 */
export async function upload(
  client: ApiClient,
  local: string,
  to: VolumePath,
  signal?: AbortSignal,
): Promise<void> {
  const found = await localStat(local);
  if (found.isDirectory()) {
    const tar = spawnTar(['-c', '-f', '-', '-C', local, '.'], 'ignore');
    await sendArchive(client, to, tar.stdout as Readable, tar, signal);
    return;
  }
  if (!found.isFile()) throw new UsageError(`${local}: only files and directories are copied`);
  const into = to.path.endsWith('/') || to.path === '/';
  const dir = into ? to.path : posix.dirname(to.path);
  const name = into ? basename(local) : posix.basename(to.path);
  const body = oneFileTar(local, name, found);
  await sendArchive(client, { ...to, path: dir }, body, undefined, signal);
}

async function sendArchive(
  client: ApiClient,
  to: VolumePath,
  body: Readable,
  tar: ChildProcess | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const exited = tar === undefined ? Promise.resolve('') : tarOutcome(tar);
  try {
    signal?.throwIfAborted();
    const response = await client.upload('PUT', archiveUrl(to), body, {
      contentType: TAR_MEDIA_TYPE,
      // Cut short on Ctrl-C: what was sent stays in the volume, which the caller removes.
      request: (request) =>
        signal?.addEventListener('abort', () => request.destroy(signal.reason as Error), {
          once: true,
        }),
    });
    response.resume();
    await new Promise((resolve) => response.once('end', resolve));
  } catch (error) {
    // The server's refusal is what the user needs to hear, not tar's end by our signal.
    tar?.kill();
    await exited;
    throw error;
  }
  await checkTar(exited, 'packing');
}

/**
 * Brings `from` out of the volume: a directory's content into `local` (made if missing), a file
 * as `local`, or into it when `local` is a directory. Says which it was.
 */
export async function download(
  client: ApiClient,
  from: VolumePath,
  local: string,
  signal?: AbortSignal,
): Promise<'file' | 'directory'> {
  signal?.throwIfAborted();
  await refuseSymlink(local);
  const response = await client.open('GET', archiveUrl(from), undefined, {
    accept: TAR_MEDIA_TYPE,
  });
  // Cut short on Ctrl-C: tar then fails on the archive's missing end, and says so.
  signal?.addEventListener('abort', () => response.destroy(signal.reason as Error), {
    once: true,
  });
  try {
    return await unpackAnswer(response, from, local);
  } catch (error) {
    throw signal?.aborted === true ? error : cutShort(error, from);
  }
}

/**
 * The server ends an archive it could not finish (a file its owner cannot read) by closing the
 * connection, so that no partial archive passes for a whole one: said so, not as a bug.
 */
function cutShort(error: unknown, from: VolumePath): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') return error;
  return new CliError(
    'PROTOCOL',
    `the server cut the archive of ${from.volume}:${from.path} short (see its log): what arrived is incomplete`,
    { cause: error },
  );
}

async function unpackAnswer(
  response: IncomingMessage,
  from: VolumePath,
  local: string,
): Promise<'file' | 'directory'> {
  const { first, rest } = await firstBlock(response);
  if (isDirectoryArchive(first)) {
    await mkdir(local, { recursive: true });
    await extract(rest, local);
    return 'directory';
  }
  const target = (await isDirectory(local)) ? join(local, entryName(first)) : local;
  // Unpacked beside its target and renamed: a partial file never takes the target's name.
  const staging = await mkdtemp(join(dirname(target), '.jobctl-cp-'));
  try {
    await extract(rest, staging);
    const [entry, ...more] = await readdir(staging);
    if (entry === undefined || more.length > 0) {
      throw new CliError('PROTOCOL', `the archive of ${from.volume}:${from.path} is not one file`);
    }
    await refuseUnlessRegular(join(staging, entry), from);
    await rename(join(staging, entry), target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return 'file';
}

/**
 * A job may leave a symlink in its volume (`out -> /etc`), which an earlier download brought
 * here as it was: writing through it (tar -C, mkdir, a file into it) would put the volume's
 * files wherever it points, outside the directory the user named. So a local target that is a
 * link is refused, not followed.
 */
async function refuseSymlink(local: string): Promise<void> {
  const stats = await lstat(local).catch(() => undefined);
  if (stats?.isSymbolicLink() === true) {
    throw new CliError(
      'FILE_UNREADABLE',
      `${local} is a symbolic link: jobctl does not download through one (remove it, or name its target)`,
    );
  }
}

/**
 * A file's download is one regular file: a link or a device there (a job's volume can hold a
 * symlink, and a root jobctl would make a device node) is refused rather than put in place.
 */
async function refuseUnlessRegular(path: string, from: VolumePath): Promise<void> {
  const stats = await lstat(path);
  if (!stats.isFile() || stats.nlink !== 1) {
    throw new CliError(
      'PROTOCOL',
      `${from.volume}:${from.path} is not a regular file (a link or a device): jobctl downloads only regular files and directories`,
    );
  }
}

async function extract(archive: Readable, dir: string): Promise<void> {
  // Owned by whoever runs jobctl, with its umask and no set-id bit: a job may leave a set-uid
  // file in its volume, which a root jobctl would otherwise unpack as a set-uid root program.
  const tar = spawnTar(
    ['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-same-permissions'],
    'pipe',
  );
  const exited = tarOutcome(tar);
  try {
    await pipeline(archive, tar.stdin as NodeJS.WritableStream);
  } catch (error) {
    tar.kill();
    await exited;
    throw error;
  }
  await checkTar(exited, 'unpacking');
}

function spawnTar(args: readonly string[], stdin: 'pipe' | 'ignore'): ChildProcess {
  return spawn('tar', args, { stdio: [stdin, stdin === 'pipe' ? 'ignore' : 'pipe', 'pipe'] });
}

/** What tar said on stderr when it failed; '' when it succeeded. */
function tarOutcome(tar: ChildProcess): Promise<string> {
  let stderr = '';
  tar.stderr?.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  return new Promise((resolve) => {
    tar.once('error', (error) => resolve(`cannot run tar: ${error.message}`));
    tar.once('close', (code, signal) =>
      resolve(code === 0 ? '' : stderr.trim() || `tar ended with ${signal ?? `status ${code}`}`),
    );
  });
}

async function checkTar(outcome: Promise<string>, doing: string): Promise<void> {
  const failure = await outcome;
  if (failure !== '') throw new CliError('FILE_UNREADABLE', `tar failed ${doing}: ${failure}`);
}

async function localStat(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (error) {
    throw new CliError('FILE_UNREADABLE', `cannot read ${path}: ${(error as Error).message}`);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

const BLOCK = 512;

/** The archive's first header block, and the whole archive again to read on from its start. */
async function firstBlock(response: IncomingMessage): Promise<{ first: Buffer; rest: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  const iterator = response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  while (length < BLOCK) {
    const next = await iterator.next();
    if (next.done === true) break;
    chunks.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* again(): AsyncGenerator<Buffer> {
    yield head;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      yield next.value;
    }
  }
  return { first: head.subarray(0, BLOCK), rest: Readable.from(again()) };
}

/** A directory's archive starts with the directory itself, `./` (the server's `tar -c .`). */
function isDirectoryArchive(header: Buffer): boolean {
  const name = entryName(header);
  return name === '.' || name === './' || header[156] === 0x35; /* '5': a directory */
}

function entryName(header: Buffer): string {
  const end = header.indexOf(0);
  return header.subarray(0, end < 0 || end > 100 ? 100 : end).toString('utf8');
}

/** A tar of one regular file named `name`: a ustar header, its bytes, padding, the end. */
function oneFileTar(path: string, name: string, stats: Stats): Readable {
  if (Buffer.byteLength(name) > 100) {
    throw new UsageError(`${name}: a file name of more than 100 bytes: copy its directory instead`);
  }
  async function* blocks(): AsyncGenerator<Buffer> {
    yield ustarHeader(name, stats);
    let sent = 0;
    // Exactly the size the header says, even if the file changes meanwhile.
    for await (const chunk of createReadStream(path, { end: Math.max(stats.size - 1, 0) })) {
      const bytes = (chunk as Buffer).subarray(0, stats.size - sent);
      sent += bytes.length;
      if (bytes.length > 0) yield bytes;
    }
    if (sent < stats.size) yield Buffer.alloc(stats.size - sent);
    yield Buffer.alloc(((BLOCK - (stats.size % BLOCK)) % BLOCK) + 2 * BLOCK);
  }
  return Readable.from(blocks());
}

function ustarHeader(name: string, stats: Stats): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  writeOctal(header, 100, 8, stats.mode & 0o7777);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeSize(header, stats.size);
  writeOctal(header, 136, 12, Math.floor(stats.mtimeMs / 1000));
  header.write('0', 156, 'latin1');
  header.write('ustar\u000000', 257, 'latin1');
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return header;
}

function writeOctal(header: Buffer, offset: number, width: number, value: number): void {
  header.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, 'latin1');
}

/** Sizes from 8 GiB up are base-256 (GNU tar's and POSIX pax's readers take it). */
function writeSize(header: Buffer, size: number): void {
  if (size < 8 ** 11) return writeOctal(header, 124, 12, size);
  header[124] = 0x80;
  header.writeBigUInt64BE(BigInt(size), 128);
}
