// The environment a job starts with: a short, explicit base plus what the client asked for.
// The server's own environment (which may hold credentials) never reaches a job.
import { userInfo } from 'node:os';
import type { JobUser } from './job-user.ts';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `user` undefined means the job runs as the server's own account. */
export function jobEnvironment(
  user: JobUser | undefined,
  requested: Readonly<Record<string, string>>,
): Record<string, string> {
  const name = user?.name ?? userInfo().username;
  return {
    PATH: DEFAULT_PATH,
    HOME: user?.home ?? '/',
    USER: name,
    LOGNAME: name,
    LANG: 'C.UTF-8',
    ...requested,
  };
}
