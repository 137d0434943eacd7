// The host-wide names and addresses of egress jobs' links, unique per server so that two servers
// on one host (as the test suite runs them) never take each other's. A server's tag comes from
// its data directory: its nftables table is `jobworker_<tag>`, and each of its jobs' host-side
// interfaces is `jw<tag><8 of the job id>` (15 characters, the kernel's most). Each link is a /31
// of the jobs' range, the host's end even, the job's odd; a /31 is taken by creating its file,
// exclusively, in one directory under /run that every server on the host shares, so no two
// servers (whatever their ranges) can hand out one pair twice, and the files go with a reboot.
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where every server on this host records the /31s its jobs hold. */
export const LINKS_DIRECTORY = '/run/jobworker/egress-links';

/** What one server calls its things on the host. */
export interface ServerNames {
  /** Five hex digits of its data directory's hash. */
  readonly tag: string;
  /** Its nftables table. */
  readonly table: string;
  /** The start of each of its jobs' host-side interface names. */
  readonly interfacePrefix: string;
}

export function serverNames(dataDir: string): ServerNames {
  const tag = createHash('sha256').update(realDirectory(dataDir)).digest('hex').slice(0, 5);
  return { tag, table: `jobworker_${tag}`, interfacePrefix: `jw${tag}` };
}

function realDirectory(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** One job's link: the host's end, named, and the two addresses of its /31. */
export interface JobLink {
  readonly hostInterface: string;
  readonly gateway: string;
  readonly jobAddress: string;
}

export class JobLinks {
  readonly #names: ServerNames;
  readonly #first: number;
  readonly #pairs: number;
  /** Where the next search starts: a freed pair is not handed out again at once. */
  #cursor: number;
  /** The file of each /31 this server took, by the interface it names. */
  readonly #taken = new Map<string, string>();

  constructor(names: ServerNames, jobCidr: string) {
    const [address = '', prefix = '32'] = jobCidr.split('/');
    this.#names = names;
    this.#first = addressValue(address);
    this.#pairs = 2 ** (32 - Number(prefix)) / 2;
    // Servers start their searches apart, so two rarely try the same pairs first.
    this.#cursor = Number.parseInt(names.tag, 16) % this.#pairs;
  }

  /** The interface name of a job's host end. */
  interfaceOf(jobId: string): string {
    return `${this.#names.interfacePrefix}${jobId.replaceAll('-', '').slice(0, 8)}`;
  }

  /** Takes a free /31 for the job; rejects when the range is full. */
  async take(jobId: string): Promise<JobLink> {
    await mkdir(LINKS_DIRECTORY, { recursive: true, mode: 0o700 });
    const hostInterface = this.interfaceOf(jobId);
    for (let tried = 0; tried < this.#pairs; tried++) {
      const pair = this.#cursor;
      this.#cursor = (this.#cursor + 1) % this.#pairs;
      const base = this.#first + pair * 2;
      try {
        await writeFile(join(LINKS_DIRECTORY, addressText(base)), `${hostInterface}\n`, {
          flag: 'wx',
          mode: 0o600,
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      this.#taken.set(hostInterface, addressText(base));
      return { hostInterface, gateway: addressText(base), jobAddress: addressText(base + 1) };
    }
    throw new Error(`every address of ${addressText(this.#first)}/… is in use by a job`);
  }

  /** Gives the job's /31 back (nothing if it holds none). */
  async release(jobId: string): Promise<void> {
    const hostInterface = this.interfaceOf(jobId);
    const file = this.#taken.get(hostInterface);
    this.#taken.delete(hostInterface);
    if (file !== undefined) return rm(join(LINKS_DIRECTORY, file), { force: true });
    // A job an earlier run of the server launched: its file is found by what it names.
    for (const [file, holder] of await this.#held()) {
      if (holder === hostInterface) await rm(join(LINKS_DIRECTORY, file), { force: true });
    }
  }

  /**
   * Gives back the /31s of this server's jobs whose link is gone: jobs that ended while no
   * server watched them, or launches a killed server left half done. A running job's link is
   * held by its supervisor, so it is still there, and kept. Only at start, before any launch.
   */
  async sweep(): Promise<number> {
    let swept = 0;
    for (const [file, holder] of await this.#held()) {
      if (!holder.startsWith(this.#names.interfacePrefix)) continue;
      if (existsSync(`/sys/class/net/${holder}`)) continue;
      await rm(join(LINKS_DIRECTORY, file), { force: true });
      swept++;
    }
    return swept;
  }

  /** Whether any job of this server still has its link. */
  async anyHeld(): Promise<boolean> {
    for (const [, holder] of await this.#held()) {
      if (holder.startsWith(this.#names.interfacePrefix) && existsSync(`/sys/class/net/${holder}`))
        return true;
    }
    return false;
  }

  /** Each file of the directory and the interface it names. */
  async #held(): Promise<[string, string][]> {
    let files: string[];
    try {
      files = await readdir(LINKS_DIRECTORY);
    } catch {
      return [];
    }
    const held: [string, string][] = [];
    for (const file of files) {
      const holder = await readFile(join(LINKS_DIRECTORY, file), 'utf8').catch(() => '');
      held.push([file, holder.trim()]);
    }
    return held;
  }
}

function addressValue(address: string): number {
  return address.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

function addressText(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
