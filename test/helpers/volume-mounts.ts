// A real server keeps its volumes mounted across its restarts (and a SIGKILL leaves them so):
// a test's data dir is thrown away, so its volumes' mounts (and the loop devices they clear on
// unmount) are taken down first, whatever state the server was left in.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Unmounts every volume mounted under the data dir; their loop devices go with them. */
export async function unmountVolumes(dataDir: string): Promise<void> {
  const prefix = `${join(dataDir, 'volumes', 'mounts')}/`;
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const mounted = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((path) => path.startsWith(prefix));
  for (const path of mounted) {
    await run('umount', [path], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }).catch(() =>
      run('umount', ['--lazy', path], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }),
    );
  }
}
