// The server's side of one running job: it listens on the job's events FIFO (output hints, and
// EOF when the supervisor exits), sends stop commands down the control FIFO, and when the
// supervisor is gone turns what it recorded into a JobOutcome and releases the cgroup. A job
// started with `stdin` reads its input from the stdin FIFO, which any writer may open.
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { JobCgroup, LiveUsage } from './cgroups/cgroup.ts';
import { InputClosedError } from '../errors.ts';
import { jobFile } from '../jobs/job-directory.ts';
import type { TerminalSize } from '../jobs/job.ts';
import { outcomeWithoutExit, type JobHandle, type JobInput, type JobOutcome } from './launcher.ts';
import { readShimStatus, type ShimStatus } from './shim-files.ts';

/** Gives back what the launch steps hold while the job runs (an egress job's address). */
type Release = () => Promise<void>;

export class ShimJobHandle implements JobHandle {
  readonly startedAt: Date;
  readonly ended: Promise<JobOutcome>;
  readonly #dir: string;
  readonly #listeners = new Set<() => void>();
  readonly #events: Socket;
  readonly #cgroup: JobCgroup | undefined;
  /** We stopped watching (the server is going away): the job has not ended for that. */
  #detached = false;

  private constructor(
    dir: string,
    startedAt: Date,
    events: Socket,
    cgroup: JobCgroup | undefined,
    release: Release | undefined,
  ) {
    this.#dir = dir;
    this.startedAt = startedAt;
    this.#events = events;
    this.#cgroup = cgroup;
    events.on('data', () => {
      for (const listener of this.#listeners) listener();
    });
    this.ended = new Promise<void>((resolve) => {
      // After detach, `ended` never settles: the next server learns how the job ends.
      events.once('close', () => {
        if (!this.#detached) resolve();
      });
      // A read error on the FIFO means we lost our view of the supervisor, like EOF does.
      events.once('error', () => events.destroy());
    }).then(() => collectOutcome(dir, cgroup, release));
  }

  /**
   * Opens the events FIFO of a supervisor that has already created it. If the supervisor has
   * exited, the open still succeeds and the first read is EOF, so `ended` settles at once.
   */
  static attach(
    dir: string,
    startedAt: Date,
    cgroup: JobCgroup | undefined,
    release?: Release,
  ): Promise<ShimJobHandle> {
    // A plain descriptor, not a FileHandle: the socket owns and closes it, and a FileHandle
    // would close it again when garbage-collected. O_NONBLOCK makes the open itself not wait.
    const events = jobFile(dir, 'events');
    const fd = openSync(events, constants.O_RDONLY | constants.O_NONBLOCK);
    // Linux reports hang-up on a FIFO only to readers that have seen a writer come and go. If the
    // supervisor already exited before this open, no writer ever will, and EOF would never be
    // seen: opening and closing a writer of our own arms it. A live supervisor still holds the
    // FIFO open, so then EOF comes when it exits, as it should.
    closeSync(openSync(events, constants.O_WRONLY | constants.O_NONBLOCK));
    const socket = new Socket({ fd, readable: true, writable: false });
    return Promise.resolve(new ShimJobHandle(dir, startedAt, socket, cgroup, release));
  }

  onOutput(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async resize(size: TerminalSize): Promise<void> {
    await sendControl(this.#dir, `resize ${size.rows} ${size.cols}\n`);
  }

  async stop(graceMs: number): Promise<void> {
    await sendControl(this.#dir, `stop ${Math.max(0, Math.round(graceMs))}\n`);
  }

  /** Stops listening without touching the job: used when the server shuts down and leaves it running. */
  liveUsage(): LiveUsage | undefined {
    return this.#cgroup?.liveUsage();
  }

  detach(): void {
    this.#detached = true;
    this.#events.destroy();
  }

  /**
   * A writer of the job's stdin FIFO, non-blocking so that a job that does not read holds up
   * this one stream (its pipe buffer full) and never a thread of the pool. The supervisor holds
   * a writer too, so this one going away leaves the input open until `end()`.
   */
  openInput(jobId: string): Promise<JobInput> {
    const path = jobFile(this.#dir, 'stdin');
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      // ENOENT: the supervisor removed it when the input was ended; ENXIO: no process reads it.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return Promise.reject(new InputClosedError(jobId, 'it was ended'));
      if (code === 'ENXIO') {
        return Promise.reject(new InputClosedError(jobId, 'the job no longer reads it'));
      }
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const stream = new Socket({ fd, readable: false, writable: true });
    const dir = this.#dir;
    return Promise.resolve({
      stream,
      end: async () => {
        await sendControl(dir, 'close-stdin\n');
      },
    });
  }
}

/** Writes a command to the supervisor; a supervisor that is already gone is not an error. */
async function sendControl(dir: string, command: string): Promise<void> {
  let file;
  try {
    file = await open(jobFile(dir, 'control'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (error) {
    // ENXIO: no reader, the supervisor has exited; ENOENT: it never got that far.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'ENOENT') return;
    throw new Error('send command to job supervisor', { cause: error });
  }
  try {
    await file.write(command);
  } catch (error) {
    // EPIPE: the supervisor exited between our open and our write; the job has ended.
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') {
      throw new Error('send command to job supervisor', { cause: error });
    }
  } finally {
    await file.close();
  }
}

/**
 * Whether the supervisor that owns this events FIFO has exited. It holds the FIFO open for writing
 * for its whole life, and a non-blocking read of a FIFO with no writer returns EOF at once, while
 * one with a writer returns EAGAIN once the pending output hints are drained.
 */
export function supervisorHasExited(dir: string): boolean {
  const fd = openSync(jobFile(dir, 'events'), constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const hints = Buffer.alloc(4096);
    for (;;) {
      try {
        if (readSync(fd, hints) === 0) return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}

export async function collectOutcome(
  dir: string,
  cgroup: JobCgroup | undefined,
  release?: Release,
): Promise<JobOutcome> {
  const status = readShimStatus(dir);
  const usage = cgroup === undefined ? undefined : await cgroup.usage().catch(() => undefined);
  await cgroup?.remove().catch(() => undefined);
  await release?.().catch(() => undefined);
  return status === undefined
    ? outcomeWithoutExit('lost', 'the job supervisor exited without recording how the job ended')
    : outcomeFromStatus(status, usage);
}

export function outcomeFromStatus(
  status: ShimStatus,
  cgroupUsage?: { cpuMs: number; peakMemoryBytes: number; oomKilled: boolean },
): JobOutcome {
  const rusage = {
    cpuMs: status.cpuUserMs + status.cpuSystemMs,
    peakMemoryBytes: status.maxRssKb * 1024,
  };
  const outputIndex =
    status.indexBytes === undefined ? {} : { outputIndexBytes: status.indexBytes };
  // Read by the supervisor from the host's end of an egress job's pair before it went.
  const network =
    status.networkSentBytes === undefined || status.networkReceivedBytes === undefined
      ? {}
      : {
          networkSentBytes: status.networkSentBytes,
          networkReceivedBytes: status.networkReceivedBytes,
        };
  return {
    reason: status.reason,
    exitCode: status.exitCode,
    signal: status.signal,
    error: status.error,
    startedAt: status.startedAt === null ? null : new Date(status.startedAt),
    endedAt: new Date(status.endedAt),
    outputBytes: status.outputBytes,
    outputTruncated: status.outputTruncated,
    usage:
      status.reason === 'failed'
        ? null
        : {
            cpuMs: cgroupUsage?.cpuMs ?? rusage.cpuMs,
            peakMemoryBytes: cgroupUsage?.peakMemoryBytes ?? rusage.peakMemoryBytes,
            // Ended, it holds none: the figure was live while it ran.
            memoryBytes: null,
            ...outputIndex,
            ...network,
          },
    // A memory-cgroup kill arrives as SIGKILL; only the cgroup's own counter tells it apart.
    oomKilled: (cgroupUsage?.oomKilled ?? false) && status.signal === 'SIGKILL',
  };
}
