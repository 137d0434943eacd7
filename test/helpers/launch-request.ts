// A launch request as the registry makes one, for tests of the launcher and its steps: a job
// spec with the defaults a request gets, and what the test changes.
import type { JobSpec } from '../../src/jobs/job.ts';
import type { LaunchRequest } from '../../src/launcher/launcher.ts';

/** A job spec with the defaults a request gets, and what the test changes. */
export function jobSpec(changes: Partial<JobSpec> = {}): JobSpec {
  return {
    command: 'true',
    args: [],
    env: {},
    cwd: '/',
    limits: {},
    sandbox: 'host',
    network: 'none',
    labels: {},
    stdin: false,
    stderr: 'separate',
    volumes: [],
    ...changes,
  };
}

export const JOB_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

export function launchRequest(
  spec: Partial<JobSpec> = {},
  request: Partial<Omit<LaunchRequest, 'spec'>> = {},
): LaunchRequest {
  return {
    jobId: JOB_ID,
    owner: 'alice',
    clientTotals: {},
    dir: '/data/jobs/x',
    maxOutputBytes: undefined,
    minFreeDiskBytes: 0,
    ...request,
    spec: jobSpec(spec),
  };
}
