// The contract between the worker and whatever starts and supervises job processes. The worker
// knows jobs; a launcher knows processes, cgroups and namespaces. A launcher's supervision must
// survive a restart of the server: `reattach` finds a job again from what is on disk.
import type { Writable } from 'node:stream';
import type { JobSpec, ResourceLimits, ResourceUsage, TerminalSize } from '../jobs/job.ts';
import type { Protections } from '../jobs/protections.ts';
import type { LiveUsage } from './cgroups/cgroup.ts';

export type { Protections, SandboxProtections } from '../jobs/protections.ts';

export interface LaunchRequest {
  readonly jobId: string;
  /** The client the job belongs to: in the private sandbox, each client has its own uid. */
  readonly owner: string;
  /** What all running jobs of this client may use together (its parent cgroup's limits). */
  readonly clientTotals: ResourceLimits;
  /** The job's directory: the launcher's supervisor writes output and exit status there. */
  readonly dir: string;
  readonly spec: JobSpec;
  /**
   * Output beyond this many bytes, its log and its index together, is dropped (the job keeps
   * running); undefined for no cap.
   */
  readonly maxOutputBytes: number | undefined;
  /** Output stops for good once recording it would leave the data disk less free; 0 for never. */
  readonly minFreeDiskBytes: number;
}

/** How a job that ran (or tried to) came to an end, as its supervisor recorded it. */
export interface JobOutcome {
  readonly reason: 'exited' | 'stopped' | 'timedout' | 'failed' | 'lost';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly error: string | null;
  readonly startedAt: Date | null;
  readonly endedAt: Date;
  readonly outputBytes: number;
  readonly outputTruncated: boolean;
  readonly usage: ResourceUsage | null;
  readonly oomKilled: boolean;
}

/** A writer of a running job's standard input (a job started with `stdin`). */
export interface JobInput {
  /** Bytes for the job; back-pressure is the kernel's pipe buffer, so nothing piles up here. */
  readonly stream: Writable;
  /**
   * Ends the job's input once `stream` has finished: the job reads what was written, then EOF.
   * No writer can add input after this. Destroying `stream` instead leaves the input open.
   */
  end(): Promise<void>;
}

/** A running job as its launcher supervises it. */
export interface JobHandle {
  readonly startedAt: Date;
  /** Resolves once the job has ended and everything it held (cgroup, channels) is released. */
  readonly ended: Promise<JobOutcome>;
  /** Called, at least once, after output was appended; a hint to read again, not a count. */
  onOutput(listener: () => void): () => void;
  /** SIGTERM to the whole process tree, SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs: number): Promise<void>;
  /** Stops watching the job and leaves it running: the next server re-attaches to it. */
  detach(): void;
  /**
   * A writer of the job's input. Throws InputClosedError when the input has been ended or the
   * job no longer reads it, InputNotOpenError when the job was not started with one.
   */
  openInput(jobId: string): Promise<JobInput>;
  /** What the job uses now (its cgroup's counters, read at once); undefined without a cgroup. */
  liveUsage(): LiveUsage | undefined;
  /** Sets the size of the job's terminal (a job started with `tty`); the job gets SIGWINCH. */
  resize(size: TerminalSize): Promise<void>;
}

export type LaunchResult =
  | { readonly kind: 'started'; readonly handle: JobHandle }
  | { readonly kind: 'failed'; readonly outcome: JobOutcome };

export type ReattachResult =
  | { readonly kind: 'running'; readonly handle: JobHandle }
  | { readonly kind: 'ended'; readonly outcome: JobOutcome }
  /** The server was stopped before it spawned the supervisor: the job never ran at all. */
  | { readonly kind: 'never-launched' };

export interface Launcher {
  readonly protections: Protections;
  /** Throws a CodedError when the spec asks for a protection this host cannot give. */
  launch(request: LaunchRequest): Promise<LaunchResult>;
  reattach(jobId: string, dir: string): Promise<ReattachResult>;
  /** Releases what the launcher holds; the jobs it started run on. */
  close(): Promise<void>;
}

/** The outcome of a job that never ran, or whose end nobody recorded. */
export function outcomeWithoutExit(reason: 'failed' | 'lost', error: string): JobOutcome {
  return {
    reason,
    exitCode: null,
    signal: null,
    error,
    startedAt: null,
    endedAt: new Date(),
    outputBytes: 0,
    outputTruncated: false,
    usage: null,
    oomKilled: false,
  };
}
