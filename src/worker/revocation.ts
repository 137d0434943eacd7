// What a revoked client certificate's jobs become: its queued jobs never start (they end
// `stopped`, the revocation in their `error`), its running jobs are stopped with the usual grace
// or run on under `onRevoke: 'leave'`. Asked whenever the CRL in force revokes more, once at
// start, and again by the registry wherever a job could slip past (recorded, leaving the queue,
// launched), since the CRL may change while a job is under way.
import type { Logger } from 'pino';
import { JobAlreadyEndedError } from '../errors.ts';
import type { JobStore } from '../store/job-store.ts';
import type { Job } from '../jobs/job.ts';
import type { RegistryOptions, Viewer } from './registry-options.ts';

export interface RevocationOptions {
  readonly store: JobStore;
  readonly log: Logger;
  readonly policy: Pick<RegistryOptions, 'revokedSerials' | 'onRevoke' | 'onRevokedJob'>;
  /** Whether a queued job's files are still being written (its enqueuing then checks again). */
  readonly isBeingQueued: (id: string) => boolean;
  readonly mustGet: (id: string) => Job;
  /** Ends a queued (or just dequeued) job without ever running it. */
  readonly endQueued: (job: Job, why: string) => void;
  /** Forgets a stop asked for while the job was being launched. */
  readonly forgetStopRequest: (id: string) => void;
  readonly stop: (viewer: Viewer, id: string, why: string) => Promise<Job>;
}

export class Revocation {
  readonly #options: RevocationOptions;
  /** The serials endJobsOfRevoked was last told of: a job left running is reported once. */
  #revokedBefore: ReadonlySet<string> = new Set();

  constructor(options: RevocationOptions) {
    this.#options = options;
  }

  /**
   * Ends what revoked certificates started. A job being launched is left to the registry, which
   * checks again; a job recorded without a serial is out of reach.
   */
  async endJobsOf(serials: ReadonlySet<string>): Promise<void> {
    const { store, log, policy, isBeingQueued } = this.#options;
    const revokedBefore = this.#revokedBefore;
    this.#revokedBefore = serials;
    const serialOf = (job: Job): string | undefined =>
      job.clientSerial !== null && serials.has(job.clientSerial) ? job.clientSerial : undefined;
    let neverStarted = 0;
    for (const job of store.queued()) {
      const serial = serialOf(job);
      // One whose files are still being written is ended by its enqueuing once they are.
      if (serial === undefined || isBeingQueued(job.id)) continue;
      this.neverStart(job.id, serial);
      neverStarted += 1;
    }
    const running = store.unfinished().filter((job) => job.status === 'running');
    const ends = running.flatMap((job) => {
      const serial = serialOf(job);
      return serial === undefined ? [] : [this.endRunning(job, serial, revokedBefore)];
    });
    await Promise.all(ends);
    if (neverStarted > 0 || ends.length > 0) {
      log.warn(
        { neverStarted, running: ends.length, policy: policy.onRevoke ?? 'stop' },
        'jobs of revoked client certificates ended',
      );
    }
  }

  /** The job's certificate serial when the CRL in force revokes it. */
  revokedSerialOf(job: Job): string | undefined {
    const serial = job.clientSerial;
    if (serial === null || this.#options.policy.revokedSerials?.().has(serial) !== true) {
      return undefined;
    }
    return serial;
  }

  /** A queued job (or one just taken off the queue) of a revoked certificate: it never starts. */
  neverStart(id: string, serial: string): void {
    const { mustGet, endQueued, forgetStopRequest, policy } = this.#options;
    const job = mustGet(id);
    // Stopped by its client meanwhile: it has ended already, and not for this.
    if (job.status !== 'queued' && job.status !== 'starting') return;
    endQueued(job, `its client certificate (serial ${serial}) was revoked; it never started`);
    forgetStopRequest(id);
    policy.onRevokedJob?.({ job: mustGet(id), serial, outcome: 'never started' });
  }

  /** Stops a running job of a revoked certificate, or reports it left running (once). */
  async endRunning(job: Job, serial: string, revokedBefore: ReadonlySet<string>): Promise<void> {
    const { policy, stop, log } = this.#options;
    if (job.status !== 'running') return;
    if (policy.onRevoke === 'leave') {
      // Reported once: a later revocation of another certificate finds it again.
      if (revokedBefore.has(serial)) return;
      policy.onRevokedJob?.({ job, serial, outcome: 'left running' });
      return;
    }
    try {
      const why = `its client certificate (serial ${serial}) was revoked`;
      const stopping = await stop({ name: job.owner, seesAll: false }, job.id, why);
      policy.onRevokedJob?.({ job: stopping, serial, outcome: 'stopped' });
    } catch (error) {
      if (error instanceof JobAlreadyEndedError) return;
      log.error(
        { err: error, jobId: job.id, client: job.owner, serial },
        'could not stop a job of a revoked client certificate',
      );
    }
  }
}
