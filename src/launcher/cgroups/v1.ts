// cgroup v1 (and the hybrid layout): one hierarchy per controller under /sys/fs/cgroup/<name>.
// A job gets `jobworker/<client group>/<job>` in each hierarchy we use and its first process joins
// all of them; the group holds the client's totals, `jobworker` the host's reserve.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResourceLimits } from '../../jobs/job.ts';
import {
  CPU_PERIOD_MICROS,
  GroupSetUp,
  isGroupName,
  SUBTREE,
  type CgroupDriver,
  type CgroupGroup,
  type CgroupUsage,
  type JobCgroup,
  type LimitKind,
  type LiveUsage,
} from './cgroup.ts';
import {
  parseKeyValues,
  readControl,
  readControlNow,
  removeCgroupDir,
  writeControl,
  writeControlNow,
  type ControlWriter,
} from './cgroup-files.ts';

const HIERARCHIES = ['cpu', 'cpuacct', 'memory', 'pids', 'blkio'] as const;
type Hierarchy = (typeof HIERARCHIES)[number];

const LIMIT_NEEDS: Readonly<Record<LimitKind, Hierarchy>> = {
  cpu: 'cpu',
  memory: 'memory',
  pids: 'pids',
  io: 'blkio',
};

export class CgroupV1Driver implements CgroupDriver {
  readonly version = 'v1';
  readonly enforceable: ReadonlySet<LimitKind>;
  readonly #roots: ReadonlyMap<Hierarchy, string>;
  readonly #groups = new GroupSetUp();

  private constructor(roots: ReadonlyMap<Hierarchy, string>) {
    this.#roots = roots;
    this.enforceable = new Set(
      (Object.keys(LIMIT_NEEDS) as LimitKind[]).filter((kind) => roots.has(LIMIT_NEEDS[kind])),
    );
  }

  /**
   * The hierarchies mounted under `mountRoot` whose job subtree we can create; `rootLimits` (the
   * host less its reserve) bound all jobs together.
   */
  static async detect(
    mountRoot: string,
    rootLimits: ResourceLimits = {},
  ): Promise<CgroupV1Driver | undefined> {
    const roots = new Map<Hierarchy, string>();
    for (const hierarchy of HIERARCHIES) {
      const root = join(mountRoot, hierarchy);
      if (!existsSync(join(root, 'cgroup.procs'))) continue;
      try {
        await mkdir(join(root, SUBTREE), { recursive: true });
        roots.set(hierarchy, join(root, SUBTREE));
      } catch {
        // Not writable (not root, or read-only cgroupfs): that controller is unavailable.
      }
    }
    if (roots.size === 0) return undefined;
    await applyLimits(roots, rootLimits, []);
    return new CgroupV1Driver(roots);
  }

  async create(
    jobId: string,
    limits: ResourceLimits,
    ioDevices: readonly string[],
    group: CgroupGroup,
  ): Promise<JobCgroup> {
    const groupDirs = new Map<Hierarchy, string>();
    for (const [hierarchy, root] of this.#roots) groupDirs.set(hierarchy, join(root, group.name));
    await this.#groups.ensure(group, async () => {
      for (const dir of groupDirs.values()) await mkdir(dir, { recursive: true });
      await applyLimits(groupDirs, group.totals, []);
    });
    const dirs = new Map<Hierarchy, string>();
    for (const [hierarchy, groupDir] of groupDirs) dirs.set(hierarchy, join(groupDir, jobId));
    const cgroup = new CgroupV1(dirs);
    // The hierarchies are independent: their directories and limits are written side by side,
    // each a round trip to the thread pool, rather than one after another.
    const made = await Promise.allSettled([...dirs.values()].map((dir) => mkdir(dir)));
    const failed = made.find((result) => result.status === 'rejected');
    try {
      if (failed !== undefined) throw failed.reason;
      await applyLimits(dirs, limits, ioDevices, writeControlNow);
    } catch (error) {
      await cgroup.remove();
      throw error;
    }
    return cgroup;
  }

  open(jobId: string): JobCgroup | undefined {
    const dirs = new Map<Hierarchy, string>();
    for (const [hierarchy, root] of this.#roots) {
      const dir = findJobDir(root, jobId);
      if (dir !== undefined) dirs.set(hierarchy, dir);
    }
    return dirs.size === 0 ? undefined : new CgroupV1(dirs);
  }
}

/** A job's directory under its group, or directly under the subtree (before groups existed). */
function findJobDir(root: string, jobId: string): string | undefined {
  if (existsSync(join(root, jobId))) return join(root, jobId);
  for (const entry of readdirSync(root)) {
    if (isGroupName(entry) && existsSync(join(root, entry, jobId))) return join(root, entry, jobId);
  }
  return undefined;
}

/** Each hierarchy's limits in order (memsw before the memory cap), the hierarchies side by side. */
async function applyLimits(
  dirs: ReadonlyMap<Hierarchy, string>,
  limits: ResourceLimits,
  ioDevices: readonly string[],
  write: ControlWriter = writeControl,
): Promise<void> {
  const writes: Promise<void>[] = [];
  const cpu = dirs.get('cpu');
  if (cpu !== undefined && limits.cpus !== undefined)
    writes.push(limitCpu(cpu, limits.cpus, write));
  const memory = dirs.get('memory');
  if (memory !== undefined && limits.memoryBytes !== undefined)
    writes.push(limitMemory(memory, limits.memoryBytes, write));
  const pids = dirs.get('pids');
  if (pids !== undefined && limits.pids !== undefined)
    writes.push(write(join(pids, 'pids.max'), String(limits.pids)));
  const blkio = dirs.get('blkio');
  if (blkio !== undefined) writes.push(limitIo(blkio, limits, ioDevices, write));
  const results = await Promise.allSettled(writes);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

async function limitCpu(dir: string, cpus: number, write: ControlWriter): Promise<void> {
  await write(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_MICROS));
  await write(join(dir, 'cpu.cfs_quota_us'), String(Math.round(cpus * CPU_PERIOD_MICROS)));
}

async function limitMemory(dir: string, bytes: number, write: ControlWriter): Promise<void> {
  // With swap accounting the cap must cover memory+swap too, or the job could swap past it.
  // memsw may never be below the memory cap, so a group's is lifted before its cap changes.
  const memsw = join(dir, 'memory.memsw.limit_in_bytes');
  const swapAccounted = existsSync(memsw);
  if (swapAccounted) await write(memsw, '-1');
  await write(join(dir, 'memory.limit_in_bytes'), String(bytes));
  if (swapAccounted) await write(memsw, String(bytes));
  await write(join(dir, 'memory.swappiness'), '0').catch(() => undefined);
  await limitSocketBuffers(dir, bytes, write);
}

/**
 * v1 counts socket buffers apart from memory.usage, and only in a cgroup whose TCP limit has been
 * written: without one a 64 MiB job held 700 MiB of the host's shared `tcp_mem` on its own
 * loopback. The kernel ties a socket to a cgroup when it is created and only if accounting was on
 * by then, so this is written before the job's first process joins (jobshim moves it in after
 * `create` returns). v2 charges socket buffers to memory.current; it needs nothing.
 */
async function limitSocketBuffers(dir: string, bytes: number, write: ControlWriter): Promise<void> {
  const tcp = join(dir, 'memory.kmem.tcp.limit_in_bytes');
  // A kernel without v1's socket accounting has no such file; Linux 6.x warns it is deprecated.
  if (existsSync(tcp)) await write(tcp, String(bytes));
}

async function limitIo(
  dir: string,
  limits: ResourceLimits,
  ioDevices: readonly string[],
  write: ControlWriter,
): Promise<void> {
  for (const device of ioDevices) {
    if (limits.ioReadBytesPerSecond !== undefined) {
      await write(
        join(dir, 'blkio.throttle.read_bps_device'),
        `${device} ${limits.ioReadBytesPerSecond}`,
      );
    }
    if (limits.ioWriteBytesPerSecond !== undefined) {
      await write(
        join(dir, 'blkio.throttle.write_bps_device'),
        `${device} ${limits.ioWriteBytesPerSecond}`,
      );
    }
  }
}

class CgroupV1 implements JobCgroup {
  readonly #dirs: ReadonlyMap<Hierarchy, string>;
  readonly procsFiles: readonly string[];
  readonly directory = undefined;

  constructor(dirs: ReadonlyMap<Hierarchy, string>) {
    this.#dirs = dirs;
    this.procsFiles = [...dirs.values()].map((dir) => join(dir, 'cgroup.procs'));
  }

  liveUsage(): LiveUsage {
    const cpuacct = this.#dirs.get('cpuacct');
    const memory = this.#dirs.get('memory');
    const read = (dir: string | undefined, file: string): number =>
      dir === undefined ? 0 : Number(readControlNow(join(dir, file)) ?? 0);
    return {
      cpuMs: Math.round(read(cpuacct, 'cpuacct.usage') / 1e6),
      peakMemoryBytes: read(memory, 'memory.max_usage_in_bytes'),
      memoryBytes: read(memory, 'memory.usage_in_bytes'),
    };
  }

  async usage(): Promise<CgroupUsage> {
    const cpuacct = this.#dirs.get('cpuacct');
    const memory = this.#dirs.get('memory');
    const cpuNanos =
      cpuacct === undefined ? undefined : await readControl(join(cpuacct, 'cpuacct.usage'));
    const peak =
      memory === undefined
        ? undefined
        : await readControl(join(memory, 'memory.max_usage_in_bytes'));
    const oomControl =
      memory === undefined ? undefined : await readControl(join(memory, 'memory.oom_control'));
    return {
      cpuMs: Math.round(Number(cpuNanos ?? 0) / 1e6),
      peakMemoryBytes: Number(peak ?? 0),
      oomKilled: (parseKeyValues(oomControl).get('oom_kill') ?? 0) > 0,
    };
  }

  async remove(): Promise<void> {
    await Promise.all([...this.#dirs.values()].map(removeCgroupDir));
  }
}
