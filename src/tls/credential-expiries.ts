// The expiries of the TLS material in force, for /metrics: the CA, server certificate and CRL the
// server serves with now, and the clients of the CA's inventory. Worked out again only when the
// credentials reload (a new object), which every certs command causes, since each republishes
// the CRL; scrapes in between cost nothing.
import { expiriesOf, type Expiry } from '../pki/expiries.ts';
import { readInventory } from '../pki/inventory.ts';
import type { PkiLayout } from '../pki/layout.ts';
import type { TlsCredentials } from './credentials.ts';

export function credentialExpiries(
  inForce: () => TlsCredentials,
  layout: PkiLayout,
): () => Promise<readonly Expiry[]> {
  let readFor: TlsCredentials | undefined;
  let expiries: Promise<readonly Expiry[]> = Promise.resolve([]);
  return () => {
    const credentials = inForce();
    if (credentials !== readFor) {
      readFor = credentials;
      expiries = readExpiries(credentials, layout, () => {
        // Read again at the next scrape: the inventory may be in the middle of a rewrite.
        if (readFor === credentials) readFor = undefined;
      });
    }
    return expiries;
  };
}

/** An unreadable inventory leaves out the clients, never the server's own credentials. */
async function readExpiries(
  credentials: TlsCredentials,
  layout: PkiLayout,
  onUnreadable: () => void,
): Promise<readonly Expiry[]> {
  const inventory = await readInventory(layout).catch(() => {
    onUnreadable();
    return undefined;
  });
  return expiriesOf({
    caPem: credentials.ca,
    serverPem: credentials.cert,
    crlNextUpdate: credentials.crlNextUpdate,
    inventory: inventory ?? { version: 1, crlNumber: 0, entries: [] },
  });
}
