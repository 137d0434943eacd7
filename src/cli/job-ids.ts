// A unique prefix of a job id is as good as the id, as in docker: `jobctl logs 3f2a`. A full id
// goes straight to the API; a prefix is matched against the jobs the caller can see.
import { CliError } from './errors.ts';
import type { ApiClient } from './http-client.ts';
import type { JobRecord } from './job-record.ts';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Candidates named in an "ambiguous" error; the rest are counted. */
const SHOWN_CANDIDATES = 5;

export async function resolveJobId(client: ApiClient, text: string): Promise<string> {
  return idResolver(client)(text);
}

/** Resolves several ids or prefixes with at most one listing of the jobs. */
export function idResolver(client: ApiClient): (text: string) => Promise<string> {
  let listing: Promise<string[]> | undefined;
  return async (text) => {
    const wanted = text.toLowerCase();
    if (FULL_ID.test(wanted)) return wanted;
    listing ??= client
      .json<{ jobs: JobRecord[] }>('GET', '/v1/jobs')
      .then(({ jobs }) => jobs.map((job) => job.id));
    return pick(text, wanted === '' ? [] : (await listing).filter((id) => id.startsWith(wanted)));
  };
}

function pick(text: string, matches: readonly string[]): string {
  if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  if (matches.length === 0) {
    // The API's own words for an unknown id, so a prefix and a full id fail alike.
    throw new CliError('JOB_NOT_FOUND', `no job with id '${text}' (JOB_NOT_FOUND)`);
  }
  const shown = matches.slice(0, SHOWN_CANDIDATES).join(', ');
  const more =
    matches.length > SHOWN_CANDIDATES ? ` and ${matches.length - SHOWN_CANDIDATES} more` : '';
  throw new CliError(
    'AMBIGUOUS_ID',
    `job id prefix '${text}' is ambiguous: it matches ${matches.length} jobs (${shown}${more}); type more of the id`,
  );
}
