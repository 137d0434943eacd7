// What the job registry is given: its options, and the shapes of its requests. The events it
// reports (status changes, jobs leaving the queue, jobs of revoked certificates) are jobs/'s.
// Apart from registry.ts so that the modules it is composed of share them without importing it.
import type { Logger } from 'pino';
import type { Launcher } from '../launcher/launcher.ts';
import type { JobStore } from '../store/job-store.ts';
import type { Job, RevocationPolicy } from '../jobs/job.ts';
import type { DequeueEvent, RevokedJobEvent, Transition } from '../jobs/job-events.ts';
import type { OutputSelection } from './output-stream.ts';

export type { DequeueEvent, RevokedJobEvent, Transition } from '../jobs/job-events.ts';

/** Who is asking: their identity, and whether they may see other clients' jobs. */
export interface Viewer {
  readonly name: string;
  readonly seesAll: boolean;
}

export interface RegistryOptions {
  readonly store: JobStore;
  readonly launcher: Launcher;
  readonly dataDir: string;
  readonly logger: Logger;
  /** Time between SIGTERM and SIGKILL when a job is stopped. */
  readonly stopGraceMs: number;
  readonly maxOutputBytes: number;
  /** Ended jobs older than this are deleted with their output; 0 keeps them forever. */
  readonly retentionMs: number;
  /** Jobs one owner may have running at once; more wait in the queue. */
  readonly maxUnfinishedPerOwner?: number;
  /** Jobs one owner may have queued at once; more are refused with QUEUE_FULL. */
  readonly maxQueuedPerOwner?: number;
  /** Memory all running jobs together may reserve; undefined: no reservation is made. */
  readonly capacityBytes?: number;
  /** What a job without a memory limit reserves. */
  readonly defaultReservationBytes?: number;
  /**
   * Free space the data disk keeps: below it no job starts (queued jobs wait) and jobs' output
   * stops being recorded; 0 or absent for no floor.
   */
  readonly minFreeDiskBytes?: number;
  /** What the records of one client's jobs may hold (command lines, environment names). */
  readonly recordBytesPerClient?: number;
  /** Jobs one client may create a minute. */
  readonly jobsPerMinutePerClient?: number;
  /** Told of every status change after it is stored: how metrics count jobs. */
  readonly onTransition?: (transition: Transition) => void;
  /** Told when a queued job leaves the queue: the audit trail records it. */
  readonly onDequeue?: (event: DequeueEvent) => void;
  /**
   * The serials the CRL in force revokes, asked whenever a job is recorded or leaves the queue:
   * a revoked certificate starts nothing, even before endJobsOfRevoked has been told of it.
   */
  readonly revokedSerials?: () => ReadonlySet<string>;
  /** What a revocation does to running jobs: `stop` them (the default) or `leave` them running. */
  readonly onRevoke?: RevocationPolicy;
  /** Told of every job a revocation ended or left running: the audit trail records it. */
  readonly onRevokedJob?: (event: RevokedJobEvent) => void;
}

/** Whether a job that cannot start now waits (the default) or is refused with a 429. */
export interface StartOptions {
  readonly queue?: boolean;
  /** The serial of the client certificate that asked (normalised hex): its revocation ends the job. */
  readonly clientSerial?: string;
}

export interface OutputRequest {
  readonly select: OutputSelection;
  readonly offset: number;
  readonly follow: boolean;
}

export function canSee(viewer: Viewer, job: Job): boolean {
  return viewer.seesAll || job.owner === viewer.name;
}
