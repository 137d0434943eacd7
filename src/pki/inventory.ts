// The CA's record of every certificate it issued, like `openssl ca`'s index.txt: `list` shows
// it, and the CRL is rebuilt from its revoked entries, so revocations are never forgotten.

import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { CRL_REASONS, normalizeSerial } from './crl.ts';
import { PkiError } from './errors.ts';
import { identityFromSubject } from './identity.ts';
import type { PkiLayout } from './layout.ts';
import { isValidClientName } from './names.ts';
import { ROLES } from './roles.ts';
import { writeFileAtomically } from './write-credential.ts';

const entrySchema = z.object({
  kind: z.enum(['client', 'server']),
  name: z.string(),
  role: z.enum(ROLES).optional(),
  /** Lowercase hex without leading zeros, as normalizeSerial gives it. */
  serial: z.string().regex(/^[0-9a-f]+$/),
  notBefore: z.iso.datetime(),
  notAfter: z.iso.datetime(),
  revokedAt: z.iso.datetime().optional(),
  reason: z.enum(CRL_REASONS).optional(),
});

const inventorySchema = z.object({
  version: z.literal(1),
  /** The number of the last CRL published; each new CRL takes the next one (RFC 5280 5.2.3). */
  crlNumber: z.number().int().nonnegative(),
  entries: z.array(entrySchema),
});

export type InventoryEntry = z.infer<typeof entrySchema>;
export type Inventory = z.infer<typeof inventorySchema>;

const INVENTORY_MODE = 0o644;

export async function readInventory(layout: PkiLayout): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(layout.inventory, 'utf8');
  } catch (error) {
    if (isMissing(error)) return adoptExistingCertificates(layout);
    throw error;
  }
  const parsed = inventorySchema.safeParse(parseJson(text));
  if (!parsed.success) {
    throw new PkiError(
      'PKI_INVALID_INVENTORY',
      `${layout.inventory} is not a valid inventory: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

export async function writeInventory(layout: PkiLayout, inventory: Inventory): Promise<void> {
  await writeFileAtomically(
    layout.inventory,
    `${JSON.stringify(inventory, null, 2)}\n`,
    INVENTORY_MODE,
  );
}

export function entryFor(
  kind: InventoryEntry['kind'],
  certPem: string,
  name: string,
): InventoryEntry {
  const x509 = new X509Certificate(certPem);
  const identity = kind === 'client' ? identityFromSubject(subjectFields(x509)) : undefined;
  return {
    kind,
    name,
    ...(identity === undefined ? {} : { role: identity.role }),
    serial: normalizeSerial(x509.serialNumber),
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
  };
}

export function isActive(entry: InventoryEntry, now = new Date()): boolean {
  return entry.revokedAt === undefined && new Date(entry.notAfter) > now;
}

/**
 * A PKI made before the inventory existed (or by hand) is adopted rather than refused: the
 * server and client certificates on disk become its first entries, none of them revoked.
 */
async function adoptExistingCertificates(layout: PkiLayout): Promise<Inventory> {
  const entries: InventoryEntry[] = [];
  const server = await readOptional(layout.serverCert);
  if (server !== undefined) {
    const subject = subjectFields(new X509Certificate(server));
    entries.push(entryFor('server', server, firstValue(subject.CN) ?? 'server'));
  }
  for (const name of (await listDirectory(layout.clientsDir)).filter(isValidClientName)) {
    const cert = await readOptional(layout.client(name).cert);
    if (cert !== undefined) entries.push(entryFor('client', cert, name));
  }
  return { version: 1, crlNumber: 0, entries };
}

function subjectFields(x509: X509Certificate): { CN?: string; OU?: string } {
  const fields: Record<string, string> = {};
  for (const line of x509.subject.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

function firstValue(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

async function listDirectory(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

/**
 * The certificate each client name holds now: the latest-expiring of its unrevoked ones. A
 * renewed client's older certificate still works until it expires, but nobody will use it, so an
 * alert on its expiry would only be noise; a revoked one never works again.
 */
export function currentClientCertificates(inventory: Inventory): InventoryEntry[] {
  const latest = new Map<string, InventoryEntry>();
  for (const entry of inventory.entries) {
    if (entry.kind !== 'client' || entry.revokedAt !== undefined) continue;
    const held = latest.get(entry.name);
    if (held === undefined || Date.parse(entry.notAfter) > Date.parse(held.notAfter))
      latest.set(entry.name, entry);
  }
  return [...latest.values()];
}
