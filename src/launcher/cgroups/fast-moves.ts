// cgroup v1 places a job's first process by moving it (a write to cgroup.procs). The kernel guards
// every move with one host-wide lock whose readers (each fork and exit) take a per-CPU fast path;
// to take it for writing after a quiet spell, a move first waits for an RCU grace period: 7 to 20
// ms on an idle host, most of a job's start. The cgroup2 mount option `favordynmods` (Linux 6.1)
// keeps that lock ready for writers, and from Linux 6.18 it lets a move lock only the moved
// process's own thread group. A move then costs about 0.2 ms. The kernel documents the price:
// forks and exits take a slower path. cgroup v2 hosts need none of this, since jobs are born in
// their cgroup (clone3 with CLONE_INTO_CGROUP), so only hosts on v1 with a cgroup2 mount get it.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const FAVOR_DYNMODS = 'favordynmods';

export interface Cgroup2Mount {
  readonly target: string;
  /** The mount's own flags (rw or ro, nosuid, nodev, noexec, relatime, ...). */
  readonly mountOptions: readonly string[];
  /** The superblock's own options (nsdelegate, memory_recursiveprot, ...), without rw/ro. */
  readonly options: readonly string[];
}

export type FastMovesResult =
  | { readonly kind: 'enabled' | 'already'; readonly mount: string }
  | { readonly kind: 'unavailable'; readonly why: string };

/** The first cgroup2 mount in a mountinfo table (proc(5)), if any. */
export function findCgroup2Mount(mountinfo: string): Cgroup2Mount | undefined {
  for (const line of mountinfo.split('\n')) {
    const [mountFields, superFields] = line.split(' - ');
    if (mountFields === undefined || superFields === undefined) continue;
    const [fsType, , superOptions = ''] = superFields.split(' ');
    if (fsType !== 'cgroup2') continue;
    const fields = mountFields.split(' ');
    const target = unescapeMountPath(fields[4] ?? '');
    const mountOptions = (fields[5] ?? '').split(',').filter((o) => o !== '');
    const options = superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro' && o !== '');
    return { target, mountOptions, options };
  }
  return undefined;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/**
 * Turns `favordynmods` on for the host's cgroup2 superblock. A remount replaces the superblock's
 * options with the ones given (nsdelegate, for one, would be dropped), and a mount(8) that does
 * not merge what is in mountinfo (busybox) would reset the mount's own flags (nosuid, ro): both
 * are given back, as they are.
 */
export async function favourFastMoves(
  mountinfoPath = '/proc/self/mountinfo',
): Promise<FastMovesResult> {
  const mount = findCgroup2Mount(await readFile(mountinfoPath, 'utf8'));
  if (mount === undefined) return { kind: 'unavailable', why: 'no cgroup2 hierarchy is mounted' };
  if (mount.options.includes(FAVOR_DYNMODS)) return { kind: 'already', mount: mount.target };
  const options = ['remount', ...mount.mountOptions, ...mount.options, FAVOR_DYNMODS].join(',');
  try {
    await run('mount', ['-o', options, mount.target], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return { kind: 'unavailable', why: stderr || (error as Error).message };
  }
  return { kind: 'enabled', mount: mount.target };
}
