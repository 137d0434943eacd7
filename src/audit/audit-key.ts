// The key that signs the audit log: Ed25519, generated on first start and kept with the PKI
// (0600, in the certs directory), so whoever can read the audit log still cannot forge it. The
// public half is published as a JWK Set for offline verification.
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { writeFileAtomically } from '../pki/write-credential.ts';

export const AUDIT_ALGORITHM = 'EdDSA';
const KEY_MODE = 0o600;

export interface AuditKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** RFC 7638 thumbprint of the public JWK: names the key in every record's header. */
  readonly kid: string;
  readonly publicJwk: JWK;
}

export function auditKeyPath(certsDir: string): string {
  return join(certsDir, 'audit-key.pem');
}

/** Loads the signing key, creating it the first time. */
export async function ensureAuditKey(certsDir: string): Promise<AuditKey> {
  const path = auditKeyPath(certsDir);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
    const { privateKey } = await promisify(generateKeyPair)('ed25519');
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // Without overwrite: two servers starting at once keep whichever key landed first.
    await writeFileAtomically(path, pem, KEY_MODE, false).catch(async (failure: unknown) => {
      if (!(failure instanceof Error && 'code' in failure && failure.code === 'PKI_EXISTS')) {
        throw failure;
      }
      pem = await readFile(path, 'utf8');
    });
  }
  return auditKeyFromPem(pem);
}

export async function auditKeyFromPem(pem: string): Promise<AuditKey> {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, ...(await publicJwkOf(publicKey)) };
}

export async function publicJwkOf(publicKey: KeyObject): Promise<{ kid: string; publicJwk: JWK }> {
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, publicJwk: { ...jwk, kid, alg: AUDIT_ALGORITHM, use: 'sig' } };
}
