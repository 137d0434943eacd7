// Resolves the account jobs run as. Node has no getpwnam, and /etc/passwd is the source of truth
// for the system accounts (such as `nobody`) this is meant for.
import { readFileSync } from 'node:fs';

export interface JobUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export function resolveJobUser(nameOrUid: string, passwdPath = '/etc/passwd'): JobUser {
  const lines = readFileSync(passwdPath, 'utf8').split('\n');
  for (const line of lines) {
    const [name, , uid, gid, , home] = line.split(':');
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (name === nameOrUid || uid === nameOrUid) {
      return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
    }
  }
  throw new Error(`job user '${nameOrUid}' is not in ${passwdPath}`);
}
