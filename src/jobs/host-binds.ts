// The host paths a sandboxed job sees (--sandbox-binds): the setting's syntax, its default and
// the top-level paths the sandbox makes itself, where no bind may go. Shared vocabulary: the
// configuration parses the setting and the launcher mounts what it names, so it sits below both
// and neither imports the other.

/** A host path the private sandbox shows at the same place. */
export interface HostBind {
  readonly path: string;
  readonly writable: boolean;
}

/** Nomad's exec driver chroot: enough of the host to run its programs, none of its data. */
export const DEFAULT_BINDS = '/bin,/etc,/lib,/lib32,/lib64,/sbin,/usr';

/** Top-level paths the sandbox makes itself (native/sandbox.c): no bind or image entry goes there. */
export const SANDBOX_OWNED = ['proc', 'sys', 'dev', 'tmp', 'run', 'work'] as const;

export class BindListError extends Error {
  readonly code = 'BIND_LIST_INVALID';
}

/** `PATH[:ro|:rw],...`: absolute, normalised paths, none of those the sandbox makes itself. */
export function parseBinds(text: string): HostBind[] {
  const binds = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const [path = '', mode = 'ro', ...rest] = entry.split(':');
      if (rest.length > 0 || (mode !== 'ro' && mode !== 'rw'))
        throw new BindListError(`'${entry}': expected PATH, PATH:ro or PATH:rw`);
      if (!path.startsWith('/') || path.split('/').some((part) => part === '.' || part === '..'))
        throw new BindListError(`'${entry}': the path must be absolute, without . or ..`);
      const normalised = path.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
      const owned = [...SANDBOX_OWNED, 'var/tmp'].some(
        (path) => normalised === `/${path}` || normalised.startsWith(`/${path}/`),
      );
      if (normalised === '/' || owned)
        throw new BindListError(`'${entry}': the sandbox makes ${normalised} itself`);
      return { path: normalised, writable: mode === 'rw' };
    });
  // Outer paths first, so /usr is in place before a bind below it such as /usr/share/x.
  return binds.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
}
