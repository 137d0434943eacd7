// The HTTP trailers that follow the output of `POST /v1/jobs?follow=true`: how the job ended. One
// list for the route that writes them, the OpenAPI document that describes them and jobctl, which
// reads them. Plain data (no zod): jobctl uses it at run time.

export const JOB_TRAILERS = {
  status: 'Job-Status',
  exitCode: 'Job-Exit-Code',
  signal: 'Job-Signal',
  oomKilled: 'Job-OOM-Killed',
  /**
   * Why it ended, when its owner did not end it: a command that could not run, a timeout, an OOM
   * kill, a revocation, the disk floor or the output budget (its `error`); empty otherwise.
   */
  error: 'Job-Error',
} as const;

/** How the worker marks the line it adds to a followed job's stderr to say why the job ended. */
export const WORKER_LINE_PREFIX = 'jobworker: ';

/** The `Trailer` header that announces them. */
export const TRAILER_HEADER = Object.values(JOB_TRAILERS).join(', ');
