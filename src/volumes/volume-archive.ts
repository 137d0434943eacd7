// Files into and out of a volume as tar streams, like `docker cp`, never as root on the host:
// a static busybox's tar runs as the client's job uid, chrooted into a root of its own (a
// read-only tmpfs in a private mount namespace) that holds only busybox and the volume. Whatever
// an archive says (`..`, absolute paths, a symlink out and a file through it, a hard link to a
// host file), the host's files are not in its world; device nodes cannot be made by that uid,
// the volume is mounted nodev,nosuid, and set-id bits are taken off what was unpacked. The
// streams pass through with back-pressure; a client that goes away kills the sandbox whole.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { posix } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { ArchiveRejectedError, VolumeFullError, VolumePathNotFoundError } from '../errors.ts';

/** A static busybox: its tar, sh and find run in a root that has no libraries. */
const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox'];

const TOOL_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** What one archive needs: the volume's mount, its owner's uid and the sandbox's mount point. */
export interface ArchiveTarget {
  readonly name: string;
  readonly mountPoint: string;
  readonly uid: number;
  readonly sandboxRoot: string;
}

/**
 * The sandbox's own exit statuses, not tar's: its setup failed (125, as chroot's own failure),
 * or what it runs could not be run (126, 127). Such a failure is the server's, not the
 * archive's: a 500 told in the log, never the host's paths in a problem's detail.
 */
const SETUP_FAILED = 125;
const SETUP_STATUSES: readonly number[] = [SETUP_FAILED, 126, 127];

/**
 * Run as root in a private mount namespace: builds the root (busybox, the volume at /volume,
 * read-only), then becomes the client's uid inside it, with no way back (no_new_privs). The
 * arguments are positional ($1...), never spliced into the script.
 */
const SANDBOX_SCRIPT = `set -e
trap 'exit ${SETUP_FAILED}' EXIT
root="$1"; volume="$2"; busybox="$3"; uid="$4"; shift 4
mount -t tmpfs -o size=64k,mode=0755,nodev,nosuid,noexec jobworker-archive "$root"
mkdir "$root/bin" "$root/volume"
touch "$root/bin/busybox"
mount --bind "$busybox" "$root/bin/busybox"
mount -o remount,bind,ro,nodev,nosuid "$root/bin/busybox"
mount --bind "$volume" "$root/volume"
mount -o remount,bind,nodev,nosuid "$root/volume"
mount -o remount,ro,nodev,nosuid "$root"
trap - EXIT
exec setpriv --no-new-privs chroot --userspec="$uid:$uid" --groups="$uid" "$root" /bin/busybox "$@"
`;

/** Inside the root, as the client: unpacks stdin at $1 (made if missing), set-id bits dropped. */
const UNPACK_SCRIPT = `set -e
umask 022
mkdir -p -- "$1"
cd -- "$1"
/bin/busybox tar -x -o -f -
# A directory the client made unreadable to itself hides nothing from it: the mount is nosuid.
/bin/busybox find . -xdev -perm /6000 -type f -exec /bin/busybox chmod ug-s {} + 2>/dev/null || true
`;

/** Inside the root, as the client: a directory's content, or a file as a one-entry tar. */
const PACK_SCRIPT = `
if [ -d "$1" ]; then cd -- "$1" && exec /bin/busybox tar -c -f - .; fi
[ -e "$1" ] || [ -L "$1" ] || exit 3
cd -- "$(/bin/busybox dirname -- "$1")" && exec /bin/busybox tar -c -f - -- "$(/bin/busybox basename -- "$1")"
`;

/** The path inside the volume as the sandbox sees it: `/volume` and the client's, normalised. */
export function pathInVolume(path: string): string {
  // resolve clamps `..` at the volume's root; the sandbox could not go past it anyway.
  return posix.join('/volume', posix.resolve('/', path));
}

/**
 * Unpacks a tar stream into the volume at `path`, as the volume's owner; the bytes it read.
 * `body` is never destroyed here: when tar stops early (a bad archive, a full volume), the
 * caller still has the connection to answer on, and reads the rest of the body away.
 */
export function unpack(target: ArchiveTarget, path: string, body: Readable): Promise<number> {
  const child = sandbox(target, ['sh', '-c', UNPACK_SCRIPT, 'unpack', pathInVolume(path)]);
  child.stdout?.resume();
  const stderr = collect(child);
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // A body that closes before its end is a client gone: nothing may run on for it.
  let clientGone = false;
  const onClose = (): void => {
    if (body.readableEnded) return;
    clientGone = true;
    killSandbox(child);
  };
  body.once('close', onClose);
  body.once('error', onClose);
  body.pipe(counted).pipe(child.stdin as NodeJS.WritableStream);
  return exitOf(child).then((status) => {
    body.off('close', onClose);
    body.off('error', onClose);
    body.unpipe(counted);
    if (clientGone) throw new Error('the client went away during the upload');
    if (status !== 0) throw rejection(target, status, stderr());
    return bytes;
  });
}

/**
 * A tar stream of `path` in the volume (a directory's content; a file as a one-entry tar), read
 * as the volume's owner; VolumePathNotFoundError when there is nothing there. `closed` is
 * when the answer ends: the sandbox is killed then if it still runs.
 */
export async function pack(target: ArchiveTarget, path: string): Promise<Readable> {
  const child = sandbox(target, ['sh', '-c', PACK_SCRIPT, 'pack', pathInVolume(path)]);
  const stdout = child.stdout as Readable;
  const stderr = collect(child);
  const exited = exitOf(child);
  // The tar's first bytes, or the script's end before any: a path that is not there (or that
  // its owner cannot read) answers 404 rather than an empty archive.
  await Promise.race([once(stdout, 'readable'), exited]);
  if (stdout.readableLength === 0) {
    const status = await exited;
    if (SETUP_STATUSES.includes(status)) throw setupFailure(status, stderr());
    if (status !== 0) throw new VolumePathNotFoundError(target.name, path);
  }
  const archive = endingWith(stdout, exited, stderr);
  archive.once('close', () => killSandbox(child));
  return archive;
}

/**
 * The tar stream, ended only once tar has exited 0: a tar that failed part way (a file its
 * owner cannot read) ends it with an error instead, for the caller to cut the answer short,
 * so that a partial archive never passes for a whole one.
 */
function endingWith(stdout: Readable, exited: Promise<number>, stderr: () => string): Readable {
  const archive = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, chunk);
    },
    flush(done) {
      void exited.then((status) => {
        if (status === 0) return done();
        done(new ArchiveIncompleteError(status, stderr().trim().slice(-2000)));
      });
    },
  });
  stdout.pipe(archive);
  return archive;
}

/** A download that tar could not finish: its answer is cut short, the detail logged. */
export class ArchiveIncompleteError extends Error {
  constructor(status: number, detail: string) {
    super(`tar ended with status ${status} part way through the archive: ${detail}`);
    this.name = 'ArchiveIncompleteError';
  }
}

function sandbox(target: ArchiveTarget, busyboxArgs: readonly string[]): ChildProcess {
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--pid',
      '--fork',
      '--kill-child',
      '--net',
      '--ipc',
      '--uts',
      '--',
      'sh',
      '-c',
      SANDBOX_SCRIPT,
      'archive-sandbox',
      target.sandboxRoot,
      target.mountPoint,
      busyboxPath(),
      String(target.uid),
      ...busyboxArgs,
    ],
    // Its own process group, so that a kill reaches every process of it.
    { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: TOOL_PATH, LC_ALL: 'C' } },
  );
  child.stdin?.on('error', () => undefined);
  // A failed spawn (unshare missing, no process left) is told by exitOf, not thrown at the loop.
  child.on('error', () => undefined);
  return child;
}

function busyboxPath(): string {
  const found = BUSYBOX_PATHS.find((path) => existsSync(path));
  if (found === undefined)
    throw new Error('volume archives need a static busybox (busybox-static)');
  return found;
}

function killSandbox(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The sandbox's exit status; -1 when a signal ended it or it never ran (spawn failed). */
function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('close', (code: number | null) => resolve(code ?? -1));
    child.once('error', () => resolve(-1));
  });
}

/** The last of the sandbox's stderr (64 KiB at most), for the problem's detail. */
function collect(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    text = (text + chunk).slice(-65_536);
  });
  return () => text;
}

function rejection(target: ArchiveTarget, status: number, stderr: string): Error {
  if (SETUP_STATUSES.includes(status)) return setupFailure(status, stderr);
  if (/No space left on device/i.test(stderr)) return new VolumeFullError(target.name);
  return new ArchiveRejectedError(
    lastLine(stderr)
      .replace(/^tar: /, '')
      .slice(0, 500),
  );
}

/** A plain Error: a 500 whose detail (host paths among it) goes to the log only. */
function setupFailure(status: number, stderr: string): Error {
  return new Error(
    `the archive sandbox could not be set up (status ${status}): ${lastLine(stderr)}`,
  );
}

function lastLine(stderr: string): string {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((line) => line !== '');
  return lines.at(-1) ?? 'tar failed';
}
