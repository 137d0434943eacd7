// Creates a ready-to-use PKI for local development on first start: a CA, a server
// certificate for this machine, and one client certificate per role.

import { hostname } from 'node:os';
import { isDnsName } from './alt-names.ts';
import { CertificateAuthority } from './authority.ts';
import { pkiLayout } from './layout.ts';
import type { Role } from './roles.ts';
import { pathExists } from './write-credential.ts';

export const DEVELOPMENT_CLIENTS = [
  { name: 'admin', role: 'admin' },
  { name: 'alice', role: 'user' },
  { name: 'bob', role: 'user' },
  { name: 'auditor', role: 'auditor' },
] as const satisfies readonly { name: string; role: Role }[];

const CA_COMMON_NAME = 'jobworker development CA';

export type DevelopmentPkiResult = {
  created: boolean;
  /** Names of the clients issued by this call; empty when the PKI already existed. */
  clients: string[];
};

/** Leaves an existing PKI alone; a run interrupted before ca.pem was written is redone. */
export async function ensureDevelopmentPki(certsDir: string): Promise<DevelopmentPkiResult> {
  if (await pathExists(pkiLayout(certsDir).caCert)) {
    return { created: false, clients: [] };
  }
  await CertificateAuthority.init(certsDir, {
    altNames: defaultServerAltNames(),
    caCommonName: CA_COMMON_NAME,
    clients: DEVELOPMENT_CLIENTS.map((client) => ({ ...client })),
    force: true,
  });
  return { created: true, clients: DEVELOPMENT_CLIENTS.map((client) => client.name) };
}

/** The names a local client may dial; the hostname is skipped if it is not a valid DNS name. */
export function defaultServerAltNames(): string[] {
  const names = ['localhost', '127.0.0.1', '::1'];
  const host = hostname();
  if (isDnsName(host)) names.push(host);
  return names;
}
