// Recovery after a restart: every job the store says was launched and not ended is looked for
// again through the launcher. One still running is supervised again; one that ended meanwhile
// gets its end recorded; one whose supervisor never started goes back to the queue if it came
// from there, or is lost. Queued jobs wait on, their queue timeouts armed again.
import type { Logger } from 'pino';
import {
  outcomeWithoutExit,
  type JobHandle,
  type JobOutcome,
  type Launcher,
} from '../launcher/launcher.ts';
import type { JobStore, JobUpdate } from '../store/job-store.ts';
import type { Job } from '../jobs/job.ts';
import type { JobStatus } from '../jobs/job-status.ts';
import { createOutputFiles } from './job-outputs.ts';

export interface RecoveryOptions {
  readonly store: JobStore;
  readonly launcher: Launcher;
  readonly log: Logger;
  readonly jobDir: (id: string) => string;
  readonly transition: (job: Job, to: JobStatus, changes: JobUpdate) => void;
  readonly recordEndOrRetry: (id: string, outcome: JobOutcome) => void;
  /** Watches a running job to its end. */
  readonly supervise: (job: Job, handle: JobHandle) => void;
  readonly armQueueTimeout: (job: Job) => void;
}

/** Re-attaches jobs that were running when the server last stopped; reconciles the ended. */
export async function recoverJobs(options: RecoveryOptions): Promise<void> {
  const { store, launcher, log, jobDir, transition, recordEndOrRetry } = options;
  for (const job of store.unfinished()) {
    const dir = jobDir(job.id);
    const result = await launcher.reattach(job.id, dir);
    if (result.kind === 'never-launched' && store.wasQueued(job.id)) {
      // Accepted long ago and taken off the queue: it goes back, in its old place.
      createOutputFiles(dir);
      transition(job, 'queued', {});
      log.warn({ jobId: job.id, client: job.owner }, 'job queued again: never launched');
    } else if (result.kind === 'never-launched') {
      // Its client never had an answer (the 201 comes after the launch) and will ask again.
      // The server may have died before it made the job's files: its (empty) output is
      // readable like any ended job's.
      createOutputFiles(dir);
      recordEndOrRetry(job.id, outcomeWithoutExit('lost', 'the job supervisor never started'));
    } else if (result.kind === 'ended') {
      recordEndOrRetry(job.id, result.outcome);
    } else {
      if (job.status === 'starting') {
        transition(job, 'running', { startedAt: new Date().toISOString() });
      }
      options.supervise(job, result.handle);
      log.info({ jobId: job.id, client: job.owner }, 'job re-attached after restart');
    }
  }
  for (const job of store.queued()) {
    // A server stopped between recording a job and creating its files left none to follow.
    createOutputFiles(jobDir(job.id));
    options.armQueueTimeout(job);
  }
}
