// A unique prefix of a job id is as good as the id, as in docker: `jobctl logs 3f2a`. A full id
// goes straight to the API; a prefix is looked up among the jobs the caller can see, by the
// server (`?idPrefix=`), so it works as well with 100,000 jobs as with ten.
import { CliError } from './errors.ts';
import type { ApiClient } from './http-client.ts';
import type { JobRecord } from './job-record.ts';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What could start an id; anything else matches no job without asking. */
const PREFIX = /^[0-9a-f-]{1,36}$/;
/** Candidates named in an "ambiguous" error; the rest are counted. */
const SHOWN_CANDIDATES = 5;

export async function resolveJobId(client: ApiClient, text: string): Promise<string> {
  return idResolver(client)(text);
}

/** Resolves ids or prefixes: a full id as it is, a prefix by asking the server for its matches. */
export function idResolver(client: ApiClient): (text: string) => Promise<string> {
  return async (text) => {
    const wanted = text.toLowerCase();
    if (FULL_ID.test(wanted)) return wanted;
    if (!PREFIX.test(wanted)) return pick(text, [], false);
    // One more than is shown tells whether there are more.
    const { jobs } = await client.json<{ jobs: JobRecord[] }>(
      'GET',
      `/v1/jobs?idPrefix=${wanted}&limit=${SHOWN_CANDIDATES + 1}`,
    );
    const matches = jobs.map((job) => job.id);
    return pick(text, matches.slice(0, SHOWN_CANDIDATES), matches.length > SHOWN_CANDIDATES);
  };
}

function pick(text: string, matches: readonly string[], more: boolean): string {
  if (matches.length === 1 && !more && matches[0] !== undefined) return matches[0];
  if (matches.length === 0) {
    // The API's own words for an unknown id, so a prefix and a full id fail alike.
    throw new CliError('JOB_NOT_FOUND', `no job with id '${text}' (JOB_NOT_FOUND)`);
  }
  const count = more ? `more than ${matches.length}` : String(matches.length);
  throw new CliError(
    'AMBIGUOUS_ID',
    `job id prefix '${text}' is ambiguous: it matches ${count} jobs (${matches.join(', ')}${more ? ', ...' : ''}); type more of the id`,
  );
}
