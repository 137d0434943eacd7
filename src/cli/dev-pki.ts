// Where the development PKI of a local server is, so that `jobctl ps` works with no settings at
// all next to `npm start`: ./certs when it holds a CA, else the certs directory of the project
// jobctl is installed in (dist/jobctl, which may be copied anywhere, has none: ./certs only).
// The client defaults to the login name when the PKI has a client of that name (bob is bob), and
// to alice, the PKI's ordinary user, otherwise.
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.ts';

// In the single executable this module has no file of its own (import.meta.url is not there).
const INSTALL_ROOT = isSea()
  ? undefined
  : resolve(fileURLToPath(import.meta.url), '..', '..', '..');

export const FALLBACK_CLIENT = 'alice';

export function pkiDirectory(explicit: string | undefined, cwd: string): string {
  if (explicit !== undefined) return resolve(cwd, explicit);
  const local = resolve(cwd, 'certs');
  if (INSTALL_ROOT === undefined || existsSync(join(local, 'ca.pem'))) return local;
  return join(INSTALL_ROOT, 'certs');
}

export function pkiCa(dir: string): string {
  return join(dir, 'ca.pem');
}

export function pkiClient(dir: string, name: string): { cert: string; key: string } {
  // Client names become paths: keep '../x' and friends out (src/pki/names.ts has the same rule).
  if (!isClientName(name)) {
    throw new UsageError(
      `invalid client name '${name}': lowercase letters, digits, '.', '_' and '-' only`,
    );
  }
  return {
    cert: join(dir, 'clients', name, 'cert.pem'),
    key: join(dir, 'clients', name, 'key.pem'),
  };
}

export function defaultClient(dir: string): string {
  let login: string | undefined;
  try {
    login = userInfo().username;
  } catch {
    login = undefined;
  }
  if (login !== undefined && isClientName(login) && existsSync(pkiClient(dir, login).cert)) {
    return login;
  }
  return FALLBACK_CLIENT;
}

function isClientName(name: string): boolean {
  return /^[a-z0-9][a-z0-9._-]{0,62}$/.test(name);
}
