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

/** Every uid and gid the host's account files name: none of them may be given to a client. */
export function hostAccountIds(
  passwdPath = '/etc/passwd',
  groupPath = '/etc/group',
): ReadonlySet<number> {
  const ids = new Set<number>();
  for (const [path, columns] of [
    [passwdPath, [2, 3]],
    [groupPath, [2]],
  ] as const) {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const fields = line.split(':');
      for (const column of columns) {
        const id = Number(fields[column]);
        if (fields[column] !== undefined && fields[column] !== '' && Number.isInteger(id))
          ids.add(id);
      }
    }
  }
  return ids;
}
