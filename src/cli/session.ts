// The API client a command talks through, set up from the connection settings in effect.
import { resolveConnection } from './connection.ts';
import { ApiClient } from './http-client.ts';
import type { ConnectionFlags } from './options.ts';

export function connect(flags: ConnectionFlags): Promise<ApiClient> {
  return ApiClient.create(resolveConnection(flags, process.env, process.cwd()));
}
