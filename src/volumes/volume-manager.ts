// A client's named volumes, below HTTP: making one (its size reserved and formatted, mounted
// owned by the client's job uid), listing, reading, removing, and where each is mounted for the
// launch step that binds it into a job. Budgets are checked here (size and count per client),
// in one queue with every change, so two requests cannot both take a budget's last room. At
// start, what a crash left half-made is undone and every volume is mounted again.
import { statfs } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import {
  CodedError,
  VolumeBudgetExceededError,
  VolumeCountExceededError,
  VolumeExistsError,
  VolumeInUseError,
  VolumeNoDiskSpaceError,
  VolumeNotFoundError,
} from '../errors.ts';
import type { DatabaseSync } from 'node:sqlite';
import type { Readable } from 'node:stream';
import { pack, unpack, type ArchiveTarget } from './volume-archive.ts';
import { formatBytesAs } from '../util/quantities.ts';
import type { Volume, VolumeBudget, VolumeList, VolumePage } from './volume.ts';
import { discardImage, makeImage, mountImage, mountPoints, VolumeLayout } from './volume-images.ts';
import { VolumeRecords, type VolumeRow } from './volume-records.ts';

export type { Volume, VolumeBudget, VolumeList, VolumePage } from './volume.ts';

/** What the manager reports as it goes; a logger fits. */
export interface VolumeLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface VolumesOptions {
  readonly dataDir: string;
  readonly db: DatabaseSync;
  /** The uid (and gid) a client's jobs run as: its volumes' roots are theirs. */
  readonly uidOf: (client: string) => number;
  /** Whether a queued or running job names the volume: such a volume is not removed. */
  readonly inUse: (client: string, name: string) => boolean;
  /** Free space the data disk keeps: a volume whose reservation would go below it is refused. */
  readonly minFreeDiskBytes?: number;
  readonly log?: VolumeLog;
}

/** Told when a volume is made or removed, for metrics. */
export type VolumeChange = 'created' | 'removed';

export class Volumes {
  readonly #options: VolumesOptions;
  readonly #records: VolumeRecords;
  readonly #layout: VolumeLayout;
  /** Volumes the start could not mount: never handed out as a mount point. */
  readonly #unmounted = new Set<number>();
  /** Archives going in or out of each volume (by id): a volume is not removed under one. */
  readonly #archives = new Map<number, number>();
  /** Every change, one after another: budgets and names are checked against settled rows. */
  #changes: Promise<unknown> = Promise.resolve();

  constructor(options: VolumesOptions) {
    this.#options = options;
    this.#records = new VolumeRecords(options.db);
    this.#layout = new VolumeLayout(options.dataDir);
  }

  /** The data dir's volume layout (the archive sandbox mounts its root there). */
  get layout(): VolumeLayout {
    return this.#layout;
  }

  /**
   * Undoes what a crash left half-made or half-removed and mounts every volume that is not
   * (after a reboot; after a SIGKILL of the server they still are). Call once, before serving.
   */
  async open(): Promise<void> {
    await this.#layout.prepare();
    const mounted = await mountPoints();
    for (const row of this.#records.all()) {
      if (row.state !== 'ready') {
        await this.#discard(row);
        this.#options.log?.warn(
          { volume: row.name, client: row.client, state: row.state },
          'removed a volume a crash left half-made or half-removed',
        );
      } else if (!mounted.has(this.#layout.mountPointOf(row.id))) {
        await this.#remount(row);
      }
    }
  }

  /**
   * One volume that cannot be mounted (a damaged image, a server that is not root) must not keep
   * the others from serving; it is out of service, never bound empty into a job, until a start
   * mounts it.
   */
  async #remount(row: VolumeRow): Promise<void> {
    try {
      await mountImage(
        this.#layout.imageOf(row.id),
        this.#layout.mountPointOf(row.id),
        this.#options.uidOf(row.client),
      );
    } catch (error) {
      this.#unmounted.add(row.id);
      this.#options.log?.error(
        { err: error, volume: row.name, client: row.client },
        'could not mount a volume: it is out of service until a start mounts it',
      );
    }
  }

  /** Makes a volume of `sizeBytes` for `client`, within its role's budget. */
  create(
    client: string,
    name: string,
    sizeBytes: number,
    budget: VolumeBudget = {},
  ): Promise<Volume> {
    return this.#inTurn(async () => {
      if (this.#records.byName(client, name) !== undefined) throw new VolumeExistsError(name);
      this.#checkBudget(client, sizeBytes, budget);
      await this.#checkDisk(sizeBytes);
      const row = this.#records.insert(client, name, sizeBytes, new Date());
      try {
        await makeImage(this.#layout.imageOf(row.id), sizeBytes);
        await mountImage(
          this.#layout.imageOf(row.id),
          this.#layout.mountPointOf(row.id),
          this.#options.uidOf(client),
        );
      } catch (error) {
        await this.#discard(row);
        if (isNoSpace(error)) throw new VolumeNoDiskSpaceError(formatBytesAs(sizeBytes, '1MiB'));
        throw error;
      }
      this.#records.setState(row.id, 'ready');
      return this.#volumeOf({ ...row, state: 'ready' });
    });
  }

  /** A page of the client's volumes, newest first; undefined for every client's (admins). */
  list(client: string | undefined, page: VolumePage): VolumeList {
    const rows = this.#records.page(client, page.after ?? Number.MAX_SAFE_INTEGER, page.limit + 1);
    const shown = rows.slice(0, page.limit);
    const last = shown.at(-1);
    return {
      volumes: shown.map((row) => this.#volumeOf(row)),
      ...(rows.length > page.limit && last !== undefined ? { next: last.id } : {}),
    };
  }

  /** The client's volume; another client's is not found, exactly as a missing one. */
  get(client: string, name: string): Volume {
    return this.#volumeOf(this.#readyRow(client, name));
  }

  /**
   * Removes the client's volume and its content; refused while a queued or running job names it
   * or an archive goes in or out of it (its tar would fail on an unmounted volume part way).
   */
  remove(client: string, name: string): Promise<void> {
    return this.#inTurn(async () => {
      const row = this.#readyRow(client, name);
      if (this.#options.inUse(client, name) || this.#archives.has(row.id)) {
        throw new VolumeInUseError(name);
      }
      this.#records.setState(row.id, 'removing');
      await this.#discard(row);
      this.#unmounted.delete(row.id);
    });
  }

  /** Unpacks a tar stream at `path` in the client's volume, as its job uid in a sandbox. */
  async upload(client: string, name: string, path: string, body: Readable): Promise<number> {
    const target = this.#archiveTarget(client, name);
    const done = this.#archiveOpened(client, name);
    try {
      return await unpack(target, path, body);
    } finally {
      done();
    }
  }

  /** A tar stream of `path` in the client's volume (a file as a one-entry tar). */
  async download(client: string, name: string, path: string): Promise<Readable> {
    const target = this.#archiveTarget(client, name);
    const done = this.#archiveOpened(client, name);
    try {
      const archive = await pack(target, path);
      archive.once('close', done);
      return archive;
    } catch (error) {
      done();
      throw error;
    }
  }

  /** Counts an archive of the volume as open; the function given back closes it, once. */
  #archiveOpened(client: string, name: string): () => void {
    const { id } = this.#readyRow(client, name);
    this.#archives.set(id, (this.#archives.get(id) ?? 0) + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      const left = (this.#archives.get(id) ?? 1) - 1;
      if (left > 0) this.#archives.set(id, left);
      else this.#archives.delete(id);
    };
  }

  /** The host directory where the client's volume is mounted, its root owned by its job uid. */
  mountedPath(client: string, name: string): string {
    const row = this.#readyRow(client, name);
    if (this.#unmounted.has(row.id)) {
      throw new CodedError(
        'INTERNAL',
        `volume '${name}' could not be mounted at the server's start`,
      );
    }
    return this.#layout.mountPointOf(row.id);
  }

  /** Counts and sizes of every ready volume, for metrics. */
  totals(): { count: number; sizeBytes: number; usedBytes: number } {
    let count = 0;
    let sizeBytes = 0;
    let usedBytes = 0;
    for (const row of this.#records.all()) {
      if (row.state !== 'ready') continue;
      count += 1;
      sizeBytes += row.sizeBytes;
      usedBytes += this.#usedBytesOf(row);
    }
    return { count, sizeBytes, usedBytes };
  }

  #archiveTarget(client: string, name: string): ArchiveTarget {
    return {
      name,
      mountPoint: this.mountedPath(client, name),
      uid: this.#options.uidOf(client),
      sandboxRoot: this.#layout.sandboxRoot,
    };
  }

  #readyRow(client: string, name: string): VolumeRow {
    const row = this.#records.byName(client, name);
    if (row?.state !== 'ready') throw new VolumeNotFoundError(name);
    return row;
  }

  #checkBudget(client: string, sizeBytes: number, budget: VolumeBudget): void {
    const taken = this.#records.totals(client);
    if (budget.count !== undefined && taken.count + 1 > budget.count) {
      throw new VolumeCountExceededError(client, budget.count);
    }
    if (budget.totalBytes !== undefined && taken.bytes + sizeBytes > budget.totalBytes) {
      throw new VolumeBudgetExceededError(
        client,
        formatBytesAs(budget.totalBytes, '1MiB'),
        formatBytesAs(taken.bytes, '1MiB'),
        formatBytesAs(sizeBytes, '1MiB'),
      );
    }
  }

  /** The reservation must leave the data disk's floor free. */
  async #checkDisk(sizeBytes: number): Promise<void> {
    const disk = await statfs(this.#layout.root);
    const free = disk.bavail * disk.bsize;
    if (free - sizeBytes < (this.#options.minFreeDiskBytes ?? 0)) {
      throw new VolumeNoDiskSpaceError(formatBytesAs(sizeBytes, '1MiB'));
    }
  }

  async #discard(row: VolumeRow): Promise<void> {
    await discardImage(this.#layout.imageOf(row.id), this.#layout.mountPointOf(row.id));
    this.#records.delete(row.id);
  }

  #volumeOf(row: VolumeRow): Volume {
    return {
      name: row.name,
      client: row.client,
      sizeBytes: row.sizeBytes,
      usedBytes: this.#usedBytesOf(row),
      createdAt: row.createdAt,
    };
  }

  /** What the volume's files take, as its filesystem counts; 0 if it cannot be read now. */
  #usedBytesOf(row: VolumeRow): number {
    // Not mounted, its mount point's statfs would be the data disk's.
    if (this.#unmounted.has(row.id)) return 0;
    try {
      const fs = statfsSync(this.#layout.mountPointOf(row.id));
      return (fs.blocks - fs.bfree) * fs.bsize;
    } catch {
      return 0;
    }
  }

  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#changes.then(work);
    this.#changes = result.catch(() => undefined);
    return result;
  }
}

function isNoSpace(error: unknown): boolean {
  return error instanceof Error && /No space left|ENOSPC/.test(error.message);
}
