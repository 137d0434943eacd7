// Small file helpers shared by both cgroup drivers. cgroupfs reports errors through write(2),
// so each helper names the file in the error it rethrows.
//
// Reads are synchronous, on purpose: cgroupfs lives in memory, a read of a counter takes
// microseconds and takes no lock a writer holds for long, while each round trip to libuv's thread
// pool took 0.1-0.5 ms here and a job's end waits for several. Writes and directories stay on
// the thread pool: making and removing a cgroup (and cgroup.subtree_control) take the kernel's
// cgroup lock, which a process being moved into a v1 cgroup holds through an RCU grace period
// (7-20 ms on a host without favordynmods), and a lower memory limit written on a busy group
// reclaims memory inside the write.
import { readFileSync } from 'node:fs';
import { rmdir, writeFile } from 'node:fs/promises';

export async function writeControl(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (error) {
    throw new Error(`write '${value}' to ${path}`, { cause: error });
  }
}

/** A control file's contents, trimmed; undefined if it cannot be read. Promise-shaped, to read
 * like the writes beside it. */
export function readControl(path: string): Promise<string | undefined> {
  try {
    return Promise.resolve(readFileSync(path, 'utf8').trim());
  } catch {
    return Promise.resolve(undefined);
  }
}

/** Reads `key value` lines (memory.events, cpu.stat, memory.oom_control) into a map. */
export function parseKeyValues(text: string | undefined): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && value !== undefined) values.set(key, Number(value));
  }
  return values;
}

/**
 * Removes a cgroup directory. The kernel may report EBUSY for a moment after the last process
 * exited while it finishes tearing it down, so a few retries with backoff are allowed.
 */
export async function removeCgroupDir(path: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await rmdir(path);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 5)
        throw new Error(`remove cgroup ${path}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
    }
  }
}
