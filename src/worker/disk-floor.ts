// The floor of free space the server keeps on its data disk (`--min-free-disk`). Below it no job
// starts, and each job's supervisor stops recording output (native/jobshim.c looks at the same
// disk as it writes), so what is left goes to what must still be written: the ends of the jobs
// that run, the database's commits and the audit trail. A job's output alone can no longer fill
// the disk under the server, as a job writing at 1 GiB/s did in seconds.
import { statfsSync } from 'node:fs';
import { DiskBelowFloorError } from '../errors.ts';
import { roughBytes } from '../util/quantities.ts';

export class DiskFloor {
  /** Free bytes the disk keeps; 0 for no floor. */
  readonly bytes: number;
  readonly #path: string;

  constructor(path: string, bytes: number) {
    this.#path = path;
    this.bytes = bytes;
  }

  /**
   * Bytes free on the disk for unprivileged writers, as jobshim counts them (f_bavail): the
   * blocks a file system keeps back for root are not counted on. One statfs, a few microseconds
   * and no thread pool, so it is asked at every start.
   */
  freeBytes(): number {
    const disk = statfsSync(this.#path);
    return disk.bavail * disk.bsize;
  }

  /** Whether the disk has less free than the floor. */
  reached(): boolean {
    return this.bytes > 0 && this.freeBytes() < this.bytes;
  }

  /** Throws DiskBelowFloorError (507) while the disk has less free than the floor. */
  assertAbove(): void {
    if (this.bytes === 0) return;
    const free = this.freeBytes();
    if (free < this.bytes) throw new DiskBelowFloorError(roughBytes(free), roughBytes(this.bytes));
  }
}
