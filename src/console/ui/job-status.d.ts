// The job statuses, served as /ui/job-status.js by the server from its one list
// (src/jobs/job-status.ts), so the console cannot drift from it.
import type { JOB_STATUSES as STATUSES, JobStatus } from '../../jobs/job-status.ts';

export declare const JOB_STATUSES: typeof STATUSES;
export declare const ENDED_STATUSES: readonly JobStatus[];
