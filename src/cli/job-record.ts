// The job as the API describes it (README.md, "API"). jobctl is only a client of the HTTP API:
// it takes the wire types from the server's contract with `import type`, which is erased, so
// nothing of the server (or zod) is loaded when it runs. The statuses are plain constants it
// imports from src/jobs/job-status.ts. test/architecture.test.ts keeps both true.
import type { JobRequestBody } from '../contract/job-request.ts';
import type { ListedJob } from '../contract/jobs.ts';
import type { Job } from '../jobs/job.ts';

/** A job as the API answers it. */
export type JobRecord = Job;

/** A job as a listing answers it: its record, with long args cut (`argsTruncated`). */
export type ListedJobRecord = ListedJob;

/** The body of `POST /v1/jobs`, as a client writes it. */
export type JobRequest = JobRequestBody;
