// The environment a job starts with: a short, explicit base plus what the client asked for.
// The server's own environment (which may hold credentials) never reaches a job.
import { userInfo } from 'node:os';

/** The account a job's environment names: the job user, or the sandbox's own `job`. */
export interface JobAccount {
  readonly name: string;
  readonly home: string;
}

/** How the private sandbox names the job's uid (native/sandbox.c writes the same line). */
export const SANDBOX_ACCOUNT: JobAccount = { name: 'job', home: '/work' };

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `user` undefined means the job runs as the server's own account. */
export function jobEnvironment(
  user: JobAccount | undefined,
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
