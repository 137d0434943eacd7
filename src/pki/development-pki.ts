// Creates a ready-to-use PKI for local development on first start: a CA, a server
// certificate for this machine, and one client certificate per role.

import { access } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isDnsName } from './alt-names.ts';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type IssuedCredential,
} from './certificates.ts';
import { pkiLayout, type PkiLayout } from './layout.ts';
import type { Role } from './roles.ts';
import { ensurePrivateDirectory, writeCredential } from './write-credential.ts';

export const DEVELOPMENT_CLIENTS = [
  { name: 'admin', role: 'admin' },
  { name: 'alice', role: 'user' },
  { name: 'bob', role: 'user' },
  { name: 'auditor', role: 'auditor' },
] as const satisfies readonly { name: string; role: Role }[];

const CA_COMMON_NAME = 'jobworker development CA';
const CA_DAYS = 3650;
// 825 days is the longest validity Apple platforms accept for TLS server certificates.
const SERVER_DAYS = 825;
const CLIENT_DAYS = 90;

export type DevelopmentPkiResult = {
  created: boolean;
  /** Names of the clients issued by this call; empty when the PKI already existed. */
  clients: string[];
};

/**
 * ca.pem is the marker of a complete PKI: it is written last, so an interrupted run has
 * no ca.pem and is simply regenerated (overwriting the leftovers) on the next start.
 */
export async function ensureDevelopmentPki(certsDir: string): Promise<DevelopmentPkiResult> {
  const layout = pkiLayout(certsDir);
  if (await fileExists(layout.caCert)) {
    return { created: false, clients: [] };
  }
  const ca = await createCertificateAuthority({ commonName: CA_COMMON_NAME, days: CA_DAYS });
  const [server, clients] = await Promise.all([
    issueServerCertificate(ca, {
      commonName: 'localhost',
      altNames: serverAltNames(),
      days: SERVER_DAYS,
    }),
    Promise.all(
      DEVELOPMENT_CLIENTS.map((client) =>
        issueClientCertificate(ca, { name: client.name, role: client.role, days: CLIENT_DAYS }),
      ),
    ),
  ]);
  await ensurePrivateDirectory(layout.dir);
  await writeCredential({ cert: layout.serverCert, key: layout.serverKey }, server, {
    overwrite: true,
  });
  await writeClients(layout, clients);
  // writeCredential writes the key before the certificate, so ca.pem lands last of all.
  await writeCredential({ cert: layout.caCert, key: layout.caKey }, ca, { overwrite: true });
  return { created: true, clients: DEVELOPMENT_CLIENTS.map((client) => client.name) };
}

async function writeClients(layout: PkiLayout, credentials: IssuedCredential[]): Promise<void> {
  await ensurePrivateDirectory(layout.clientsDir);
  for (const [index, client] of DEVELOPMENT_CLIENTS.entries()) {
    const credential = credentials[index];
    if (credential === undefined) throw new Error(`missing credential for client ${client.name}`);
    const paths = layout.client(client.name);
    await ensurePrivateDirectory(paths.dir);
    await writeCredential(paths, credential, { overwrite: true });
  }
}

/** The names a local client may dial; the hostname is skipped if it is not a valid DNS name. */
function serverAltNames(): string[] {
  const names = ['localhost', '127.0.0.1', '::1'];
  const host = hostname();
  if (isDnsName(host)) names.push(host);
  return names;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return false;
    throw error;
  }
}
