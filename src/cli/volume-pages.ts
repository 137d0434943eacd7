// The pages of GET /v1/volumes, in order, each fetched when the caller asks for the next (the
// listing follows RFC 8288 Link headers, as the jobs' does).
import type { VolumeAnswer } from '../contract/volumes.ts';
import type { ApiClient } from './http-client.ts';

export async function* volumePages(client: ApiClient): AsyncGenerator<readonly VolumeAnswer[]> {
  let path: string | undefined = '/v1/volumes';
  while (path !== undefined) {
    const page: { body: { volumes: VolumeAnswer[] }; next?: string } = await client.jsonWithLinks<{
      volumes: VolumeAnswer[];
    }>('GET', path);
    yield page.body.volumes;
    path = page.next;
  }
}
