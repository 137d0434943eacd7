// The job worker's certificate authority as its operators use it: create it, onboard a client,
// renew, revoke, rotate the server certificate, publish the CRL. Every change is made under a
// lock, recorded in the inventory first and then published in a new CRL, so a crash between the
// two leaves a revocation that the next command (or `certs crl`) publishes, never one forgotten.

import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type IssuedCredential,
} from './certificates.ts';
import { toForgeAltNames } from './alt-names.ts';
import { createCrl, type CrlReason } from './crl.ts';
import { PkiError } from './errors.ts';
import {
  entryFor,
  isActive,
  readInventory,
  writeInventory,
  type Inventory,
  type InventoryEntry,
} from './inventory.ts';
import { pkiLayout, type ClientPaths, type PkiLayout } from './layout.ts';
import { withLock } from './lock.ts';
import { assertValidClientName } from './names.ts';
import { toPkcs12 } from './pkcs12.ts';
import { assertRole, type Role } from './roles.ts';
import {
  ensurePrivateDirectory,
  pathExists,
  writeCredential,
  writeFileAtomically,
} from './write-credential.ts';

/** Validity defaults, each chosen for a reason the README repeats. */
export const VALIDITY_DAYS = {
  // Ten years: replacing a CA means reissuing every certificate, so it should be rare.
  ca: 3650,
  // 825 days is the longest validity Apple platforms accept for TLS server certificates.
  server: 825,
  // Short-lived client certificates limit how long a stolen key is useful, even unrevoked.
  client: 90,
  // The server warns a week before the CRL expires; every certs command publishes a new one.
  crl: 30,
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;
const P12_MODE = 0o600;
const CRL_MODE = 0o644;

export type ClientRequest = { name: string; role: Role; days?: number | undefined };

export type IssuedClient = {
  entry: InventoryEntry;
  paths: ClientPaths;
};

export type InitOptions = {
  altNames: string[];
  /** Replace an existing CA: every certificate it issued stops being trusted. */
  force?: boolean;
  caCommonName?: string;
  /** Clients issued before the CA is committed, so an interrupted run leaves no half PKI. */
  clients?: ClientRequest[];
};

export class CertificateAuthority {
  readonly layout: PkiLayout;
  readonly #ca: IssuedCredential;

  private constructor(layout: PkiLayout, ca: IssuedCredential) {
    this.layout = layout;
    this.#ca = ca;
  }

  /**
   * ca.pem is the marker of a complete PKI: it is written last, so an interrupted run has no
   * ca.pem, counts as no PKI at all, and is simply redone.
   */
  static async init(certsDir: string, options: InitOptions): Promise<CertificateAuthority> {
    const layout = pkiLayout(certsDir);
    // Checked before the slow key generation and before anything is written.
    toForgeAltNames(options.altNames);
    await ensurePrivateDirectory(layout.dir);
    return withLock(layout.lock, async () => {
      if (!options.force && (await pathExists(layout.caCert))) {
        throw new PkiError(
          'PKI_EXISTS',
          `a CA already exists in ${layout.dir}; replacing it makes every certificate it issued ` +
            'useless, so pass --force if that is what you want',
        );
      }
      const ca = await createCertificateAuthority({
        commonName: options.caCommonName ?? 'jobworker CA',
        days: VALIDITY_DAYS.ca,
      });
      const authority = new CertificateAuthority(layout, ca);
      const clients = options.clients ?? [];
      const [server, ...issued] = await Promise.all([
        authority.#issueServer(options.altNames, VALIDITY_DAYS.server),
        ...clients.map((client) => authority.#issueClient(client)),
      ]);
      const inventory: Inventory = { version: 1, crlNumber: 0, entries: [] };
      inventory.entries.push(await authority.#writeServer(server));
      for (const [index, credential] of issued.entries()) {
        const { entry } = await authority.#writeClient(clients[index]!.name, credential);
        inventory.entries.push(entry);
      }
      await authority.#commit(inventory);
      await writeCredential({ cert: layout.caCert, key: layout.caKey }, ca, { overwrite: true });
      return authority;
    });
  }

  static async open(certsDir: string): Promise<CertificateAuthority> {
    const layout = pkiLayout(certsDir);
    let ca: IssuedCredential;
    try {
      ca = {
        certPem: await readFile(layout.caCert, 'utf8'),
        keyPem: await readFile(layout.caKey, 'utf8'),
      };
    } catch (error) {
      throw new PkiError(
        'PKI_NOT_INITIALIZED',
        `no CA in ${layout.dir}: run 'npm run certs -- init' (or start the server once) first`,
        { cause: error },
      );
    }
    return new CertificateAuthority(layout, ca);
  }

  get caCertPem(): string {
    return this.#ca.certPem;
  }

  async list(): Promise<InventoryEntry[]> {
    return (await readInventory(this.layout)).entries;
  }

  /** A client may hold one active certificate: a second one is a renewal, said explicitly. */
  async issueClient(request: ClientRequest): Promise<IssuedClient> {
    assertValidClientName(request.name);
    assertRole(request.role);
    return withLock(this.layout.lock, async () => {
      const inventory = await readInventory(this.layout);
      const active = activeClientEntries(inventory, request.name);
      if (active.length > 0) {
        throw new PkiError(
          'PKI_EXISTS',
          `client ${request.name} already has a certificate valid until ${active[0]!.notAfter}; ` +
            `use 'renew ${request.name}', or 'revoke ${request.name}' first`,
        );
      }
      return this.#issueAndRecord(inventory, request);
    });
  }

  /** A new key and certificate; the previous certificate stays valid until it expires. */
  async renew(
    name: string,
    options: { days?: number | undefined; role?: Role | undefined },
  ): Promise<IssuedClient> {
    assertValidClientName(name);
    return withLock(this.layout.lock, async () => {
      const inventory = await readInventory(this.layout);
      const previous = clientEntries(inventory, name).at(-1);
      if (previous === undefined) {
        throw new PkiError('PKI_NOT_FOUND', `no certificate was ever issued to client ${name}`);
      }
      const role = options.role ?? previous.role;
      if (role === undefined) {
        throw new PkiError('PKI_INVALID_ROLE', `client ${name} has no role on record: pass --role`);
      }
      return this.#issueAndRecord(inventory, { name, role, days: options.days });
    });
  }

  /** Revokes every unexpired certificate of a client and publishes the new CRL. */
  async revoke(name: string, reason: CrlReason = 'unspecified'): Promise<InventoryEntry[]> {
    assertValidClientName(name);
    return withLock(this.layout.lock, async () => {
      const inventory = await readInventory(this.layout);
      const active = activeClientEntries(inventory, name);
      if (active.length === 0) {
        throw new PkiError('PKI_NOT_FOUND', `client ${name} has no active certificate to revoke`);
      }
      const revokedAt = new Date().toISOString();
      for (const entry of active) Object.assign(entry, { revokedAt, reason });
      await this.#commit(inventory);
      return active;
    });
  }

  /** A new server key and certificate; the running server picks them up on its own. */
  async rotateServer(options: {
    altNames?: string[] | undefined;
    days?: number | undefined;
  }): Promise<InventoryEntry> {
    return withLock(this.layout.lock, async () => {
      const inventory = await readInventory(this.layout);
      const altNames = options.altNames ?? (await this.#currentServerAltNames());
      const credential = await this.#issueServer(altNames, options.days ?? VALIDITY_DAYS.server);
      const entry = await this.#writeServer(credential);
      inventory.entries.push(entry);
      await this.#commit(inventory);
      return entry;
    });
  }

  /** Publishes a fresh CRL with the same revocations: what a cron job runs before expiry. */
  async refreshCrl(): Promise<{ nextUpdate: Date; revoked: number }> {
    return withLock(this.layout.lock, async () => {
      const inventory = await readInventory(this.layout);
      const nextUpdate = await this.#commit(inventory);
      return { nextUpdate, revoked: revokedEntries(inventory).length };
    });
  }

  /** Writes a password-protected PKCS#12 bundle of a client's key, certificate and CA. */
  async writePkcs12(name: string, password: string): Promise<string> {
    const paths = this.layout.client(name);
    // Under the lock, so a concurrent renewal cannot pair one certificate with another's key.
    return withLock(this.layout.lock, async () => {
      const credential = {
        certPem: await readFile(paths.cert, 'utf8'),
        keyPem: await readFile(paths.key, 'utf8'),
      };
      const bundle = toPkcs12(credential, this.#ca.certPem, password, name);
      await writeFileAtomically(paths.p12, bundle, P12_MODE);
      return paths.p12;
    });
  }

  async #issueAndRecord(inventory: Inventory, request: ClientRequest): Promise<IssuedClient> {
    const issued = await this.#writeClient(request.name, await this.#issueClient(request));
    inventory.entries.push(issued.entry);
    await this.#commit(inventory);
    return issued;
  }

  #issueClient(request: ClientRequest): Promise<IssuedCredential> {
    return issueClientCertificate(this.#ca, {
      name: request.name,
      role: request.role,
      days: request.days ?? VALIDITY_DAYS.client,
    });
  }

  #issueServer(altNames: string[], days: number): Promise<IssuedCredential> {
    return issueServerCertificate(this.#ca, {
      commonName: altNames[0] ?? 'localhost',
      altNames,
      days,
    });
  }

  async #writeClient(name: string, credential: IssuedCredential): Promise<IssuedClient> {
    await ensurePrivateDirectory(this.layout.clientsDir);
    const paths = this.layout.client(name);
    await ensurePrivateDirectory(paths.dir);
    await writeCredential(paths, credential, { overwrite: true });
    return { entry: entryFor('client', credential.certPem, name), paths };
  }

  async #writeServer(credential: IssuedCredential): Promise<InventoryEntry> {
    // The key is replaced before the certificate; a server reloading in between sees a pair
    // that does not match, keeps its current one, and reloads again when the certificate lands.
    await writeCredential(
      { cert: this.layout.serverCert, key: this.layout.serverKey },
      credential,
      { overwrite: true },
    );
    const commonName = new X509Certificate(credential.certPem).subject.match(/CN=(.*)/)?.[1];
    return entryFor('server', credential.certPem, commonName ?? 'server');
  }

  /** Records the inventory, then publishes the CRL it implies; returns the CRL's expiry. */
  async #commit(inventory: Inventory): Promise<Date> {
    inventory.crlNumber += 1;
    await writeInventory(this.layout, inventory);
    const nextUpdate = new Date(Date.now() + VALIDITY_DAYS.crl * DAY_MS);
    const crl = await createCrl(this.#ca, {
      crlNumber: inventory.crlNumber,
      nextUpdate,
      entries: revokedEntries(inventory).map((entry) => ({
        serialHex: entry.serial,
        revokedAt: new Date(entry.revokedAt!),
        ...(entry.reason === undefined ? {} : { reason: entry.reason }),
      })),
    });
    await writeFileAtomically(this.layout.crl, crl, CRL_MODE);
    return nextUpdate;
  }

  async #currentServerAltNames(): Promise<string[]> {
    const current = new X509Certificate(await readFile(this.layout.serverCert, 'utf8'));
    return (current.subjectAltName ?? '')
      .split(', ')
      .map((name) => name.replace(/^(DNS|IP Address):/, ''))
      .filter((name) => name !== '');
  }
}

function clientEntries(inventory: Inventory, name: string): InventoryEntry[] {
  return inventory.entries.filter((entry) => entry.kind === 'client' && entry.name === name);
}

function activeClientEntries(inventory: Inventory, name: string): InventoryEntry[] {
  return clientEntries(inventory, name).filter((entry) => isActive(entry));
}

/** Expired certificates are refused anyway, so they need not stay on the CRL (RFC 5280 3.3). */
function revokedEntries(inventory: Inventory): InventoryEntry[] {
  const now = new Date();
  return inventory.entries.filter(
    (entry) => entry.revokedAt !== undefined && new Date(entry.notAfter) > now,
  );
}
