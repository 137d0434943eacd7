// Listings come a page at a time (GET /v1/jobs follows RFC 8288 Link headers): the pages of one
// listing, in order, fetched only as the caller asks for the next, so `jobctl ps` prints the
// first jobs before the last are fetched and holds one page in memory.
import type { ApiClient } from './http-client.ts';
import type { ListedJobRecord } from './job-record.ts';

/** What to list; every field is a query parameter of GET /v1/jobs. */
export interface JobQuery {
  readonly status?: readonly string[];
  readonly labels?: readonly string[];
  readonly since?: string;
  readonly idPrefix?: string;
  /** Jobs per page (the server's default when absent). */
  readonly pageSize?: number;
}

export async function* jobPages(
  client: ApiClient,
  query: JobQuery,
): AsyncGenerator<readonly ListedJobRecord[]> {
  let path: string | undefined = `/v1/jobs${queryString(query)}`;
  while (path !== undefined) {
    const page: { body: { jobs: ListedJobRecord[] }; next?: string } = await client.jsonWithLinks<{
      jobs: ListedJobRecord[];
    }>('GET', path);
    yield page.body.jobs;
    path = page.next;
  }
}

function queryString(query: JobQuery): string {
  const params = new URLSearchParams();
  if (query.status !== undefined && query.status.length > 0)
    params.set('status', query.status.join(','));
  for (const label of query.labels ?? []) params.append('label', label);
  if (query.since !== undefined) params.set('since', query.since);
  if (query.idPrefix !== undefined) params.set('idPrefix', query.idPrefix);
  if (query.pageSize !== undefined) params.set('limit', String(query.pageSize));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
