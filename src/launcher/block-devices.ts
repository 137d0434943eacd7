// Finds the block devices a job writes to, as the `major:minor` pairs the blkio/io controllers
// want. Throttling applies to whole disks, so a partition is mapped to its parent disk.
import { existsSync, readFileSync, statSync } from 'node:fs';

function majorMinor(dev: number): string {
  // Linux's new_encode_dev layout of st_dev.
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & ~0xff);
  return `${major}:${minor}`;
}

function wholeDisk(device: string): string | undefined {
  const sysfs = `/sys/dev/block/${device}`;
  if (!existsSync(sysfs)) return undefined;
  if (!existsSync(`${sysfs}/partition`)) return device;
  try {
    return readFileSync(`${sysfs}/../dev`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The distinct disks holding the given paths; paths on virtual filesystems are skipped. */
export function blockDevicesOf(paths: readonly string[]): string[] {
  const devices = new Set<string>();
  for (const path of paths) {
    try {
      const disk = wholeDisk(majorMinor(statSync(path).dev));
      if (disk !== undefined) devices.add(disk);
    } catch {
      // An unreadable path contributes no device; the root file system still does.
    }
  }
  return [...devices];
}
