// A volume's filesystem on the host: an image file under the data dir, allocated whole
// (fallocate: the volume's size is reserved on the data disk when it is made, so volumes cannot
// oversell it), formatted ext4, and loop-mounted nodev,nosuid at its own directory. The kernel
// enforces the size: a write past it is ENOSPC inside the volume, never on the data disk.
// Nobody else spells these paths.
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Root's tools live in /usr/sbin and /sbin, which a service's or a CI's PATH may leave out. */
const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where a data dir keeps volumes: images by id, mount points by id, the archive sandbox's root. */
export class VolumeLayout {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'volumes');
  }

  imageOf(id: number): string {
    return join(this.root, 'images', `${id}.img`);
  }

  mountPointOf(id: number): string {
    return join(this.root, 'mounts', String(id));
  }

  /** An empty directory the archive sandbox mounts its own root on, in its own namespace. */
  get sandboxRoot(): string {
    return join(this.root, 'sandbox-root');
  }

  /** Only root crosses it: the images and mounts are reached by the server and jobs' binds. */
  async prepare(): Promise<void> {
    for (const dir of [this.root, join(this.root, 'images'), join(this.root, 'mounts')]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    }
    await mkdir(this.sandboxRoot, { recursive: true, mode: 0o755 });
  }
}

async function tool(command: string, args: readonly string[]): Promise<void> {
  try {
    await run(command, args, { env: { PATH: TOOL_PATH, LC_ALL: 'C' } });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`${command} ${args.join(' ')}: ${stderr || (error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Reserves and formats a volume's image. `-E nodiscard`: mke2fs would otherwise discard the
 * file's blocks, which on a regular file punches holes and gives the reservation back.
 */
export async function makeImage(image: string, sizeBytes: number): Promise<void> {
  await tool('fallocate', ['--length', String(sizeBytes), image]);
  await chmod(image, 0o600);
  await tool('mkfs.ext4', [
    '-q',
    '-F',
    // No blocks kept for root: the client's uid owns the whole volume.
    '-m',
    '0',
    '-E',
    'nodiscard,lazy_itable_init=1',
    image,
  ]);
}

/** Mounts an image at its mount point (made if missing), its root owned by the client's uid. */
export async function mountImage(image: string, mountPoint: string, uid: number): Promise<void> {
  await mkdir(mountPoint, { recursive: true, mode: 0o755 });
  // `loop` sets the loop device to clear itself once the filesystem is unmounted.
  await tool('mount', ['-t', 'ext4', '-o', 'loop,nodev,nosuid,noatime', image, mountPoint]);
  await chown(mountPoint, uid, uid);
  await chmod(mountPoint, 0o755);
  // The client's volume is all its own: no root-owned directory it can neither read nor remove.
  await rmdir(join(mountPoint, 'lost+found')).catch(() => undefined);
}

/** Unmounts a volume if it is mounted: its loop device goes with it. */
export async function unmountImage(mountPoint: string): Promise<void> {
  if (!(await isMounted(mountPoint))) return;
  try {
    await tool('umount', [mountPoint]);
  } catch {
    // Busy (an upload still in its own namespace holds it): detached now, freed when let go.
    await tool('umount', ['--lazy', mountPoint]);
  }
}

/** Removes what is left of a volume on the host: its mount, its image, its mount point. */
export async function discardImage(image: string, mountPoint: string): Promise<void> {
  await unmountImage(mountPoint);
  await rm(image, { force: true });
  await rmdir(mountPoint).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** Whether something is mounted exactly at `path` in the server's mount namespace. */
export async function isMounted(path: string): Promise<boolean> {
  return (await mountPoints()).has(path);
}

/** Every mount point of the server's namespace, as /proc/self/mountinfo spells them (unescaped). */
export async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return new Set(
    text
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((field): field is string => field !== undefined)
      .map((field) =>
        field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
          String.fromCharCode(parseInt(octal, 8)),
        ),
      ),
  );
}
