// RSA key generation for certificates. Node's asynchronous generator runs on the libuv
// thread pool, so generating even a 3072-bit key never stalls the event loop; forge only
// receives the public half, which is all it needs to build a certificate.

import { generateKeyPair, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { PkiError } from './errors.ts';

export type RsaKeyPair = {
  /** For forge's certificate builder. */
  publicKey: forge.pki.rsa.PublicKey;
  /** For signing with node:crypto. */
  privateKey: KeyObject;
  /** PKCS#8, the format Node, OpenSSL and most tools expect by default. */
  privateKeyPem: string;
};

export async function generateRsaKeyPair(bits: number): Promise<RsaKeyPair> {
  const { publicKey, privateKey } = await generateNativeKeyPair(bits);
  return {
    publicKey: forge.pki.publicKeyFromPem(toPem(publicKey.export({ type: 'spki', format: 'pem' }))),
    privateKey,
    privateKeyPem: toPem(privateKey.export({ type: 'pkcs8', format: 'pem' })),
  };
}

function generateNativeKeyPair(
  bits: number,
): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      { modulusLength: bits, publicExponent: 0x10001 },
      (error, publicKey, privateKey) => {
        if (error) {
          reject(
            new PkiError('PKI_KEYGEN_FAILED', `RSA ${bits}-bit key generation failed`, {
              cause: error,
            }),
          );
        } else {
          resolve({ publicKey, privateKey });
        }
      },
    );
  });
}

function toPem(exported: string | Buffer): string {
  return typeof exported === 'string' ? exported : exported.toString('utf8');
}
