// Signs a forge-built certificate with Node's native crypto. forge's own RSA signing is
// pure JavaScript (~120 ms per signature with a 3072-bit CA key) and would block the event
// loop; Node's callback form of `sign` runs on the libuv thread pool instead.

import { sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

// Present at run time but missing from @types/node-forge.
const { getTBSCertificate } = forge.pki as unknown as {
  getTBSCertificate: (cert: forge.pki.Certificate) => forge.asn1.Asn1;
};

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11'; // sha256WithRSAEncryption

/** Fills in the signature fields of `cert` exactly as forge's `cert.sign` would, for SHA-256. */
export async function signCertificate(
  cert: forge.pki.Certificate,
  issuerKey: KeyObject,
): Promise<void> {
  // The algorithm is part of the signed data, so it must be set before building the TBS.
  cert.signatureOid = SHA256_WITH_RSA;
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  cert.tbsCertificate = getTBSCertificate(cert);
  const tbsDer = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  const signature = await signAsync(tbsDer, issuerKey);
  cert.signature = signature.toString('binary');
}

function signAsync(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign('sha256', data, key, (error, signature) => {
      if (error) reject(error);
      else resolve(signature);
    });
  });
}
