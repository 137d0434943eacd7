// Small file helpers shared by both cgroup drivers. cgroupfs reports errors through write(2),
// so each helper names the file in the error it rethrows.
import { readFile, rmdir, writeFile } from 'node:fs/promises';

export async function writeControl(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (error) {
    throw new Error(`write '${value}' to ${path}`, { cause: error });
  }
}

export async function readControl(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
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
