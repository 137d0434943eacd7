// A job's limits as the kernel holds them: what its cgroup's control files say while it runs, on
// v1 (one directory per hierarchy) and on v2 (one directory, in the cgroup v2 guest). The other
// suites show the limits' effects; this shows each one is written, swap included, none lost or
// left at the kernel's default.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

const CGROUP_MOUNT = '/sys/fs/cgroup';
const MEMORY_BYTES = 64 * 1024 * 1024;

/** The directories named after the job, however deep the host puts the jobs' tree. */
function jobCgroupDirs(jobId: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 7) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      // Another cgroup, removed while the walk passed by.
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      if (entry.name === jobId) found.push(join(dir, entry.name));
      else walk(join(dir, entry.name), depth + 1);
    }
  };
  walk(CGROUP_MOUNT, 0);
  return found;
}

/** Every control file of those directories that this test knows, by name. */
function controlFiles(dirs: readonly string[]): Map<string, string> {
  const known = [
    'cpu.cfs_quota_us',
    'cpu.cfs_period_us',
    'memory.limit_in_bytes',
    'memory.memsw.limit_in_bytes',
    'memory.swappiness',
    'cpu.max',
    'memory.max',
    'memory.swap.max',
    'memory.oom.group',
    'pids.max',
  ];
  const files = new Map<string, string>();
  for (const dir of dirs) {
    for (const name of known) {
      try {
        files.set(name, readFileSync(join(dir, name), 'utf8').trim());
      } catch {
        // Not in this hierarchy, or not on this kernel.
      }
    }
  }
  return files;
}

describe("a job's cgroup limits", () => {
  let server: TestServer;
  let enforceable: string[];
  before(async () => {
    server = await startServer();
    const health = (await server.request('alice', 'GET', '/healthz')).json<{
      protections: { enforceableLimits: string[] };
    }>();
    enforceable = health.protections.enforceableLimits;
  });
  after(async () => {
    await server.dispose();
  });

  it('are all in place while the job runs', async (t) => {
    if (!['cpu', 'memory', 'pids'].every((kind) => enforceable.includes(kind))) {
      return t.skip(`this host enforces only ${enforceable.join(', ') || 'no limits'}`);
    }
    const job = await server.startJob('alice', {
      command: 'sleep',
      args: ['60'],
      limits: { cpus: 0.5, memory: '64M', pids: 20 },
    });
    try {
      assert.equal(job.status, 'running');
      const files = controlFiles(jobCgroupDirs(job.id));
      assert.equal(files.get('pids.max'), '20');
      if (files.has('cpu.max')) {
        assert.equal(files.get('cpu.max'), '50000 100000');
        assert.equal(files.get('memory.max'), String(MEMORY_BYTES));
        if (files.has('memory.swap.max')) assert.equal(files.get('memory.swap.max'), '0');
        if (files.has('memory.oom.group')) assert.equal(files.get('memory.oom.group'), '1');
      } else {
        assert.equal(files.get('cpu.cfs_quota_us'), '50000');
        assert.equal(files.get('cpu.cfs_period_us'), '100000');
        assert.equal(files.get('memory.limit_in_bytes'), String(MEMORY_BYTES));
        if (files.has('memory.memsw.limit_in_bytes')) {
          assert.equal(files.get('memory.memsw.limit_in_bytes'), String(MEMORY_BYTES));
        }
        assert.equal(files.get('memory.swappiness'), '0');
      }
    } finally {
      await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
      await server.waitForEnd('alice', job.id);
    }
  });
});
