// cgroup v2: one unified hierarchy. A job gets /sys/fs/cgroup/jobworker/<client group>/<id>, with
// the controllers it needs enabled in each parent's subtree_control; the group holds the client's
// totals, `jobworker` the host's reserve.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
import { checkCgroupParent } from './cgroup-parent.ts';

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
  readonly #groups = new GroupSetUp();

  private constructor(subtree: string, enforceable: ReadonlySet<LimitKind>, delegate: string) {
    this.#subtree = subtree;
    this.enforceable = enforceable;
    this.#delegate = delegate;
  }

  /**
   * The v2 hierarchy, if this host has one. The tree is built in `cgroupParent` when the
   * operator names one (a path as /proc/self/cgroup gives it; throws a CgroupParentError if it
   * is no cgroup), else at the root, or, for a systemd service (which must have Delegate=yes),
   * inside the service's own cgroup: a delegated service may write nowhere else. `rootLimits`
   * (the host less its reserve) bound all jobs together.
   */
  static async detect(
    mountRoot: string,
    rootLimits: ResourceLimits = {},
    cgroupParent?: string,
  ): Promise<CgroupV2Driver | undefined> {
    if ((await readControl(join(mountRoot, 'cgroup.controllers'))) === undefined) return undefined;
    if (cgroupParent !== undefined) await checkCgroupParent(join(mountRoot, cgroupParent));
    let subtree: string;
    let enabled: string[];
    try {
      const parent = await treeParent(mountRoot, cgroupParent);
      const available = ((await readControl(join(parent, 'cgroup.controllers'))) ?? '').split(' ');
      const enable = Object.values(CONTROLLER_OF)
        .filter((name) => available.includes(name))
        .map((name) => `+${name}`)
        .join(' ');
      subtree = join(parent, SUBTREE);
      await mkdir(subtree, { recursive: true });
      if (enable !== '') {
        await writeControl(join(parent, 'cgroup.subtree_control'), enable);
        await writeControl(join(subtree, 'cgroup.subtree_control'), enable);
      }
      enabled = (await readFile(join(subtree, 'cgroup.subtree_control'), 'utf8'))
        .trim()
        .split(' ')
        .filter((name) => name !== '');
    } catch {
      return undefined;
    }
    const enforceable = new Set(
      (Object.keys(CONTROLLER_OF) as LimitKind[]).filter((kind) =>
        enabled.includes(CONTROLLER_OF[kind]),
      ),
    );
    await applyLimits(subtree, rootLimits, []);
    const delegate = enabled.map((name) => `+${name}`).join(' ');
    return new CgroupV2Driver(subtree, enforceable, delegate);
  }

  async create(
    jobId: string,
    limits: ResourceLimits,
    ioDevices: readonly string[],
    group: CgroupGroup,
  ): Promise<JobCgroup> {
    const groupDir = join(this.#subtree, group.name);
    await this.#groups.ensure(group, async () => {
      await mkdir(groupDir, { recursive: true });
      // The group holds no process itself, so its controllers can be handed down to jobs.
      if (this.#delegate !== '')
        await writeControl(join(groupDir, 'cgroup.subtree_control'), this.#delegate);
      await applyLimits(groupDir, group.totals, []);
    });
    const dir = join(groupDir, jobId);
    await mkdir(dir);
    const cgroup = new CgroupV2(dir);
    try {
      await applyLimits(dir, limits, ioDevices, writeControlNow);
      // An OOM kill takes the whole job, not one of its processes that the rest then miss.
      if (limits.memoryBytes !== undefined && existsSync(join(dir, 'memory.oom.group')))
        await writeControlNow(join(dir, 'memory.oom.group'), '1');
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
  writer: ControlWriter = writeControl,
): Promise<void> {
  if (limits.cpus !== undefined) {
    const quota = Math.round(limits.cpus * CPU_PERIOD_MICROS);
    await writer(join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_MICROS}`);
  }
  if (limits.memoryBytes !== undefined) {
    // memory.max holds socket buffers too (memory.stat's `sock`): v2 needs no TCP limit of its
    // own, unlike v1 (see v1.ts, limitSocketBuffers).
    await writer(join(dir, 'memory.max'), String(limits.memoryBytes));
    if (existsSync(join(dir, 'memory.swap.max'))) await writer(join(dir, 'memory.swap.max'), '0');
  }
  if (limits.pids !== undefined) await writer(join(dir, 'pids.max'), String(limits.pids));
  const read = limits.ioReadBytesPerSecond;
  const write = limits.ioWriteBytesPerSecond;
  if (read !== undefined || write !== undefined) {
    for (const device of ioDevices) {
      const parts = [device];
      if (read !== undefined) parts.push(`rbps=${read}`);
      if (write !== undefined) parts.push(`wbps=${write}`);
      await writer(join(dir, 'io.max'), parts.join(' '));
    }
  }
}

/** Where the server's own processes go when it builds its tree inside a service's cgroup. */
const SERVER_LEAF = 'jobworker-server';

/** Where the processes of a configured parent go: the holder unit's main process. */
const HOLDER_LEAF = 'jobworker-holder';

/**
 * The cgroup to build `jobworker/` in: the configured parent, the hierarchy's root, or a systemd
 * service's own cgroup. A configured parent's processes (not the server's) move into a leaf
 * beside the tree, and the server stays where systemd put it: its own unit's cgroup never gets
 * children with controllers, so systemd can always start a new server there. Without one, every
 * process of the server's service, the server included, moves into a leaf.
 */
async function treeParent(mountRoot: string, configured: string | undefined): Promise<string> {
  if (configured !== undefined) {
    const parent = join(mountRoot, configured);
    await moveProcessesToLeaf(parent, HOLDER_LEAF);
    return parent;
  }
  const own = /^0::(\/.*)$/m.exec(await readFile('/proc/self/cgroup', 'utf8'))?.[1];
  if (own === undefined || !/\.service(\/[^/]+)?$/.test(own)) return mountRoot;
  const service = basename(own) === SERVER_LEAF ? dirname(own) : own;
  if (!service.endsWith('.service')) return mountRoot;
  const parent = join(mountRoot, service);
  await moveProcessesToLeaf(parent, SERVER_LEAF);
  return parent;
}

/**
 * Moves every process of `parent` into its child `leaf`: a cgroup that holds processes cannot
 * hand controllers down (v2's "no internal processes").
 */
async function moveProcessesToLeaf(parent: string, leaf: string): Promise<void> {
  const leafDir = join(parent, leaf);
  await mkdir(leafDir, { recursive: true });
  const procs = ((await readControl(join(parent, 'cgroup.procs'))) ?? '').split('\n');
  for (const pid of procs.filter((line) => line !== '')) {
    // A process may exit between the read and the move.
    await writeControl(join(leafDir, 'cgroup.procs'), pid).catch(() => undefined);
  }
}

class CgroupV2 implements JobCgroup {
  readonly #dir: string;
  readonly procsFiles: readonly string[];
  readonly directory: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.directory = dir;
    this.procsFiles = [join(dir, 'cgroup.procs')];
  }

  liveUsage(): LiveUsage {
    const cpu = parseKeyValues(readControlNow(join(this.#dir, 'cpu.stat')));
    return {
      cpuMs: Math.round((cpu.get('usage_usec') ?? 0) / 1000),
      peakMemoryBytes: Number(readControlNow(join(this.#dir, 'memory.peak')) ?? 0),
      memoryBytes: Number(readControlNow(join(this.#dir, 'memory.current')) ?? 0),
    };
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
