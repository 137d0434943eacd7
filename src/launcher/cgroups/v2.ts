// cgroup v2: one unified hierarchy. A job gets /sys/fs/cgroup/jobworker/<client group>/<id>, with
// the controllers it needs enabled in each parent's subtree_control; the group holds the client's
// totals, `jobworker` the host's reserve.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResourceLimits } from '../../worker/job.ts';
import {
  CPU_PERIOD_MICROS,
  GroupLimitsWritten,
  isGroupName,
  SUBTREE,
  type CgroupDriver,
  type CgroupGroup,
  type CgroupUsage,
  type JobCgroup,
  type LimitKind,
} from './cgroup.ts';
import { parseKeyValues, readControl, removeCgroupDir, writeControl } from './cgroup-files.ts';

const CONTROLLER_OF: Readonly<Record<LimitKind, string>> = {
  cpu: 'cpu',
  memory: 'memory',
  pids: 'pids',
  io: 'io',
};

export class CgroupV2Driver implements CgroupDriver {
  readonly version = 'v2';
  readonly enforceable: ReadonlySet<LimitKind>;
  readonly #subtree: string;
  readonly #delegate: string;
  readonly #groupsWritten = new GroupLimitsWritten();

  private constructor(subtree: string, enforceable: ReadonlySet<LimitKind>, delegate: string) {
    this.#subtree = subtree;
    this.enforceable = enforceable;
    this.#delegate = delegate;
  }

  static async detect(
    mountRoot: string,
    rootLimits: ResourceLimits = {},
  ): Promise<CgroupV2Driver | undefined> {
    const available = await readControl(join(mountRoot, 'cgroup.controllers'));
    if (available === undefined) return undefined;
    const subtree = join(mountRoot, SUBTREE);
    const wanted = Object.values(CONTROLLER_OF).filter((name) =>
      available.split(' ').includes(name),
    );
    try {
      await mkdir(subtree, { recursive: true });
      const enable = wanted.map((name) => `+${name}`).join(' ');
      if (enable !== '') {
        await writeControl(join(mountRoot, 'cgroup.subtree_control'), enable);
        await writeControl(join(subtree, 'cgroup.subtree_control'), enable);
      }
    } catch {
      return undefined;
    }
    const enabled = (await readFile(join(subtree, 'cgroup.subtree_control'), 'utf8'))
      .trim()
      .split(' ');
    const enforceable = new Set(
      (Object.keys(CONTROLLER_OF) as LimitKind[]).filter((kind) =>
        enabled.includes(CONTROLLER_OF[kind]),
      ),
    );
    await applyLimits(subtree, rootLimits, []);
    const delegate = enabled
      .filter((name) => name !== '')
      .map((name) => `+${name}`)
      .join(' ');
    return new CgroupV2Driver(subtree, enforceable, delegate);
  }

  async create(
    jobId: string,
    limits: ResourceLimits,
    ioDevices: readonly string[],
    group: CgroupGroup,
  ): Promise<JobCgroup> {
    const groupDir = join(this.#subtree, group.name);
    if (this.#groupsWritten.needsWrite(group)) {
      try {
        await mkdir(groupDir, { recursive: true });
        // The group holds no process itself, so its controllers can be handed down to jobs.
        if (this.#delegate !== '')
          await writeControl(join(groupDir, 'cgroup.subtree_control'), this.#delegate);
        await applyLimits(groupDir, group.totals, []);
      } catch (error) {
        this.#groupsWritten.forget(group);
        throw error;
      }
    }
    const dir = join(groupDir, jobId);
    await mkdir(dir);
    const cgroup = new CgroupV2(dir);
    try {
      await applyLimits(dir, limits, ioDevices);
    } catch (error) {
      await cgroup.remove();
      throw error;
    }
    return cgroup;
  }

  open(jobId: string): JobCgroup | undefined {
    if (existsSync(join(this.#subtree, jobId))) return new CgroupV2(join(this.#subtree, jobId));
    for (const entry of readdirSync(this.#subtree)) {
      const dir = join(this.#subtree, entry, jobId);
      if (isGroupName(entry) && existsSync(dir)) return new CgroupV2(dir);
    }
    return undefined;
  }
}

async function applyLimits(
  dir: string,
  limits: ResourceLimits,
  ioDevices: readonly string[],
): Promise<void> {
  if (limits.cpus !== undefined) {
    const quota = Math.round(limits.cpus * CPU_PERIOD_MICROS);
    await writeControl(join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_MICROS}`);
  }
  if (limits.memoryBytes !== undefined) {
    await writeControl(join(dir, 'memory.max'), String(limits.memoryBytes));
    if (existsSync(join(dir, 'memory.swap.max')))
      await writeControl(join(dir, 'memory.swap.max'), '0');
  }
  if (limits.pids !== undefined) await writeControl(join(dir, 'pids.max'), String(limits.pids));
  const read = limits.ioReadBytesPerSecond;
  const write = limits.ioWriteBytesPerSecond;
  if (read !== undefined || write !== undefined) {
    for (const device of ioDevices) {
      const parts = [device];
      if (read !== undefined) parts.push(`rbps=${read}`);
      if (write !== undefined) parts.push(`wbps=${write}`);
      await writeControl(join(dir, 'io.max'), parts.join(' '));
    }
  }
}

class CgroupV2 implements JobCgroup {
  readonly #dir: string;
  readonly procsFiles: readonly string[];

  constructor(dir: string) {
    this.#dir = dir;
    this.procsFiles = [join(dir, 'cgroup.procs')];
  }

  async usage(): Promise<CgroupUsage> {
    const cpu = parseKeyValues(await readControl(join(this.#dir, 'cpu.stat')));
    const events = parseKeyValues(await readControl(join(this.#dir, 'memory.events')));
    const peak = await readControl(join(this.#dir, 'memory.peak'));
    return {
      cpuMs: Math.round((cpu.get('usage_usec') ?? 0) / 1000),
      peakMemoryBytes: Number(peak ?? 0),
      oomKilled: (events.get('oom_kill') ?? 0) > 0,
    };
  }

  async remove(): Promise<void> {
    await removeCgroupDir(this.#dir);
  }
}
