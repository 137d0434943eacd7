// Commands that act on several jobs (`jobctl stop a b c`) act on each in turn. A job that cannot
// be found or acted on is reported and the others still are, as docker does; the exit status
// says whether all went well. A connection or TLS failure ends the command at once.
import { CliError } from './errors.ts';
import { EXIT } from './exit-status.ts';
import type { ApiClient } from './http-client.ts';
import { idResolver } from './job-ids.ts';
import { say } from './output.ts';

const PER_JOB_FAILURES = new Set(['API_ERROR', 'JOB_NOT_FOUND', 'AMBIGUOUS_ID']);

export async function forEachJob(
  client: ApiClient,
  texts: readonly string[],
  action: (id: string) => Promise<void>,
): Promise<number> {
  const resolve = idResolver(client);
  let failed = false;
  for (const text of texts) {
    try {
      await action(await resolve(text));
    } catch (error) {
      if (!(error instanceof CliError) || !PER_JOB_FAILURES.has(error.code)) throw error;
      say(error.message);
      failed = true;
    }
  }
  return failed ? EXIT.FAILURE : EXIT.OK;
}
