// Which cgroup2 mount the server turns favordynmods on for, and which options it gives back: a
// remount replaces a superblock's options, so losing nsdelegate here would change the host.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findCgroup2Mount } from '../../src/launcher/cgroups/fast-moves.ts';

const HYBRID = [
  '24 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '25 24 0:22 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '26 24 0:23 / /sys/fs/cgroup/cpu rw,relatime shared:11 - cgroup cgroup rw,cpu',
].join('\n');

describe('finding the cgroup2 mount', () => {
  it('finds the hybrid layout’s cgroup2 with the mount’s flags and the superblock’s options', () => {
    assert.deepEqual(findCgroup2Mount(HYBRID), {
      target: '/sys/fs/cgroup/unified',
      mountOptions: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'],
      options: ['nsdelegate'],
    });
  });

  it('keeps every option of a systemd host’s unified hierarchy', () => {
    const line =
      '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot,favordynmods';
    assert.deepEqual(findCgroup2Mount(line)?.options, [
      'nsdelegate',
      'memory_recursiveprot',
      'favordynmods',
    ]);
  });

  it('decodes an escaped mount point and says when there is none', () => {
    const line = '40 23 0:26 / /mnt/with\\040space rw - cgroup2 none rw';
    assert.equal(findCgroup2Mount(line)?.target, '/mnt/with space');
    assert.equal(findCgroup2Mount(HYBRID.split('\n')[2] ?? ''), undefined);
  });
});
