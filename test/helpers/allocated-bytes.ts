// What a server's volumes take on its data disk: the blocks their files have allocated, whatever
// their length says (a sparse file counts what it holds; a volume's fallocated image all of
// it). The volumes' mount points are left out: their files are inside the images. The rest of
// the data dir (the store and its WAL, the audit log, jobs' output) grows with any request, by
// more than these tests' margins under load, so it is not counted. Measured here rather than
// as the disk's free space, which other processes on the host change too.
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function allocatedBytes(dataDir: string): number {
  const volumes = join(dataDir, 'volumes');
  const mounts = join(volumes, 'mounts');
  let total = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (path === mounts) continue;
      // A file the server renames or removes meanwhile (a temporary file) takes nothing.
      const blocks = lstatSync(path, { throwIfNoEntry: false })?.blocks ?? 0;
      total += blocks * 512;
      if (entry.isDirectory()) walk(path);
    }
  };
  if (existsSync(volumes)) walk(volumes);
  return total;
}
