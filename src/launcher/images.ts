// Root filesystem images: directories under DATA_DIR/images, imported by the operator from
// tarballs (`npm run images`), shared read-only by the jobs that name them. A job that names an
// image sees the image's top-level entries where a host job sees the operator's binds.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IMAGE_NAME } from '../jobs/job.ts';

export interface ImageInfo {
  readonly name: string;
  readonly importedAt: Date;
}

export class ImageStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The image's root directory, or undefined if there is no such image. */
  rootOf(name: string): string | undefined {
    if (!IMAGE_NAME.test(name)) return undefined;
    const root = join(this.#dir, name, 'rootfs');
    return existsSync(root) ? root : undefined;
  }

  /** The image's top-level entries, which the sandbox binds read-only where it has none. */
  async topLevelEntries(root: string): Promise<string[]> {
    const entries = await readdir(root);
    // Hidden entries are not part of a root filesystem's layout: none is trusted to be one.
    return entries.filter((entry) => !entry.startsWith('.')).sort();
  }

  async list(): Promise<ImageInfo[]> {
    if (!existsSync(this.#dir)) return [];
    const names = (await readdir(this.#dir)).filter((name) => IMAGE_NAME.test(name)).sort();
    return Promise.all(
      names.map(async (name) => ({
        name,
        importedAt: (await stat(join(this.#dir, name))).mtime,
      })),
    );
  }

  /**
   * Unpacks a tarball into a new image. Files belong to root whatever the archive says; device
   * nodes, sockets and FIFOs are removed and set-uid and set-gid bits cleared, so nothing in an
   * image is more than plain files on the host's disk (the sandbox also binds it nosuid, nodev).
   * GNU tar refuses members that would land outside the directory. The image appears whole or
   * not at all (unpacked aside, then renamed).
   */
  async import(name: string, tarball: string): Promise<void> {
    if (!IMAGE_NAME.test(name))
      throw new Error(`image name '${name}' must match ${IMAGE_NAME.source}`);
    if (this.rootOf(name) !== undefined) throw new Error(`image '${name}' exists; rm it first`);
    await mkdir(this.#dir, { recursive: true, mode: 0o755 });
    const staging = await mkdtemp(join(this.#dir, `.import-${name}-`));
    try {
      const rootfs = join(staging, 'rootfs');
      await mkdir(rootfs, { mode: 0o755 });
      await promisify(execFile)('tar', [
        '--extract',
        '--no-same-owner',
        '--file',
        tarball,
        '--directory',
        rootfs,
      ]);
      const find = promisify(execFile);
      await find('find', [
        rootfs,
        '(',
        '-type',
        'b',
        '-o',
        '-type',
        'c',
        '-o',
        '-type',
        'p',
        '-o',
        '-type',
        's',
        ')',
        '-delete',
      ]);
      await find('find', [
        rootfs,
        '-type',
        'f',
        '-perm',
        '/6000',
        '-exec',
        'chmod',
        'ug-s',
        '{}',
        '+',
      ]);
      await rename(staging, join(this.#dir, name));
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
  }

  /** Jobs already running on the image keep what they have opened; new files vanish. */
  async remove(name: string): Promise<boolean> {
    if (this.rootOf(name) === undefined) return false;
    const doomed = join(this.#dir, `.removing-${name}-${process.pid}`);
    await rename(join(this.#dir, name), doomed);
    await rm(doomed, { recursive: true, force: true });
    return true;
  }
}
