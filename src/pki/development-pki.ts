// Creates a ready-to-use PKI for local development on first start: a CA, a server
// certificate for this machine, and one client certificate per role, each with the PKCS#12
// bundle (client.p12) a browser imports, under a password everyone knows: these are for trying
// the server on one machine, never for anything another person can reach.

import { hostname } from 'node:os';
import { isDnsName } from './alt-names.ts';
import { CertificateAuthority } from './authority.ts';
import { pkiLayout, type ClientPaths } from './layout.ts';
import type { Role } from './roles.ts';
import { pathExists } from './write-credential.ts';

export const DEVELOPMENT_CLIENTS = [
  { name: 'admin', role: 'admin' },
  { name: 'alice', role: 'user' },
  { name: 'bob', role: 'user' },
  { name: 'auditor', role: 'auditor' },
] as const satisfies readonly { name: string; role: Role }[];

const CA_COMMON_NAME = 'jobworker development CA';

/**
 * The development clients' client.p12 password, documented in the README. Browsers and OpenSSL
 * refuse or mishandle empty ones, and the bundles guard nothing the key beside them does not.
 */
export const DEVELOPMENT_P12_PASSWORD = 'jobworker';

export type DevelopmentPkiResult = {
  created: boolean;
  /** Names of the clients issued by this call; empty when the PKI already existed. */
  clients: string[];
};

/**
 * Leaves an existing PKI alone, but for the development clients' bundles it lacks (one made
 * before they were written); a run interrupted before ca.pem was written is redone.
 */
export async function ensureDevelopmentPki(certsDir: string): Promise<DevelopmentPkiResult> {
  if (await pathExists(pkiLayout(certsDir).caCert)) {
    await writeMissingBundles(await CertificateAuthority.open(certsDir));
    return { created: false, clients: [] };
  }
  const authority = await CertificateAuthority.init(certsDir, {
    altNames: defaultServerAltNames(),
    caCommonName: CA_COMMON_NAME,
    clients: DEVELOPMENT_CLIENTS.map((client) => ({ ...client })),
    force: true,
  });
  // Every bundle anew: one left by an interrupted run holds a certificate of the CA replaced.
  await writeBundles(authority, () => Promise.resolve(true));
  return { created: true, clients: DEVELOPMENT_CLIENTS.map((client) => client.name) };
}

/** A development client whose certificate is there (not removed or renamed) gets its bundle. */
function writeMissingBundles(authority: CertificateAuthority): Promise<void> {
  return writeBundles(authority, async (paths) => {
    return !(await pathExists(paths.p12)) && (await pathExists(paths.cert));
  });
}

async function writeBundles(
  authority: CertificateAuthority,
  wanted: (paths: ClientPaths) => Promise<boolean>,
): Promise<void> {
  for (const { name } of DEVELOPMENT_CLIENTS) {
    if (await wanted(authority.layout.client(name))) {
      await authority.writePkcs12(name, DEVELOPMENT_P12_PASSWORD);
    }
  }
}

/** The names a local client may dial; the hostname is skipped if it is not a valid DNS name. */
export function defaultServerAltNames(): string[] {
  const names = ['localhost', '127.0.0.1', '::1'];
  const host = hostname();
  if (isDnsName(host)) names.push(host);
  return names;
}
