// What a server's data dir takes on its disk: the blocks its files have allocated, whatever
// their length says (a sparse file counts what it holds; a volume's fallocated image all of
// it). The volumes' mount points are left out: their files are inside the images. Measured
// here rather than as the disk's free space, which other processes on the host change too.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function allocatedBytes(dataDir: string): number {
  const mounts = join(dataDir, 'volumes', 'mounts');
  let total = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (path === mounts) continue;
      total += lstatSync(path).blocks * 512;
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(dataDir);
  return total;
}
