// The HTTP trailers that follow the output of `POST /v1/jobs?follow=true`: how the job ended. One
// list for the route that writes them, the OpenAPI document that describes them and jobctl, which
// reads them. Plain data (no zod): jobctl uses it at run time.

export const JOB_TRAILERS = {
  status: 'Job-Status',
  exitCode: 'Job-Exit-Code',
  signal: 'Job-Signal',
  oomKilled: 'Job-OOM-Killed',
} as const;

/** The `Trailer` header that announces them. */
export const TRAILER_HEADER = Object.values(JOB_TRAILERS).join(', ');
