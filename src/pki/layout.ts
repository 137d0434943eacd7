// Where each credential of a PKI lives inside a certs directory. Every module that reads
// or writes certificates goes through this, so the layout is defined in one place.

import { join } from 'node:path';
import { assertValidClientName } from './names.ts';

export type CredentialPaths = { cert: string; key: string };

export type ClientPaths = CredentialPaths & { dir: string; p12: string };

export type PkiLayout = {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** The certificate revocation list the server enforces. */
  crl: string;
  /** Every certificate the CA issued, with its revocation state: the CRL is built from it. */
  inventory: string;
  /** Held while a certs command changes the PKI, so two commands never interleave. */
  lock: string;
  clientsDir: string;
  clientDir(name: string): string;
  client(name: string): ClientPaths;
};

export function pkiLayout(certsDir: string): PkiLayout {
  const clientsDir = join(certsDir, 'clients');
  const clientDir = (name: string): string => {
    // Names come from users; validating here keeps '../x' from ever becoming a path.
    assertValidClientName(name);
    return join(clientsDir, name);
  };
  return {
    dir: certsDir,
    caCert: join(certsDir, 'ca.pem'),
    caKey: join(certsDir, 'ca-key.pem'),
    serverCert: join(certsDir, 'server.pem'),
    serverKey: join(certsDir, 'server-key.pem'),
    crl: join(certsDir, 'crl.pem'),
    inventory: join(certsDir, 'inventory.json'),
    lock: join(certsDir, '.lock'),
    clientsDir,
    clientDir,
    client(name) {
      const dir = clientDir(name);
      return {
        dir,
        cert: join(dir, 'cert.pem'),
        key: join(dir, 'key.pem'),
        p12: join(dir, 'client.p12'),
      };
    },
  };
}
