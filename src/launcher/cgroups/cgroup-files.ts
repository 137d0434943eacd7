// Small file helpers shared by both cgroup drivers. cgroupfs reports errors through write(2),
// so each helper names the file in the error it rethrows.
//
// They call the file system synchronously, on purpose: cgroupfs lives in memory and its reads,
// writes and directories take microseconds, while each round trip to libuv's thread pool took
// 0.1-0.5 ms here, and a job's start and end wait for a dozen of them. (What can be slow in a
// cgroup, a process moved into one, is done by jobshim, not here.) They keep the shape of
// promises, so the drivers read the same as with any other file system.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';

export function writeControl(path: string, value: string): Promise<void> {
  try {
    writeFileSync(path, value);
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(new Error(`write '${value}' to ${path}`, { cause: error }));
  }
}

export function readControl(path: string): Promise<string | undefined> {
  try {
    return Promise.resolve(readFileSync(path, 'utf8').trim());
  } catch {
    return Promise.resolve(undefined);
  }
}

/** Makes one cgroup directory, whose parent exists. */
export function makeCgroupDir(path: string): Promise<void> {
  try {
    mkdirSync(path);
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
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
      rmdirSync(path);
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
