// Checks the certificates' X.509 contents with Node's own parser, independently of forge.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type IssuedCredential,
} from '../../src/pki/certificates.ts';
import { PkiError } from '../../src/pki/errors.ts';
import type { Role } from '../../src/pki/roles.ts';
import { CLIENT_AUTH_OID, SERVER_AUTH_OID, serialBits } from './helpers.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof PkiError, `expected a PkiError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

describe('certificates', () => {
  let ca: IssuedCredential;
  let server: IssuedCredential;
  let client: IssuedCredential;
  let caX509: X509Certificate;
  let serverX509: X509Certificate;
  let clientX509: X509Certificate;

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'test CA', days: 30 });
    [server, client] = await Promise.all([
      issueServerCertificate(ca, {
        commonName: 'localhost',
        altNames: ['localhost', '127.0.0.1', '::1'],
        days: 10,
      }),
      issueClientCertificate(ca, { name: 'alice', role: 'user', days: 10 }),
    ]);
    caX509 = new X509Certificate(ca.certPem);
    serverX509 = new X509Certificate(server.certPem);
    clientX509 = new X509Certificate(client.certPem);
  });

  describe('certificate authority', () => {
    it('is a self-signed CA', () => {
      assert.equal(caX509.ca, true);
      assert.equal(caX509.subject, 'CN=test CA');
      assert.ok(caX509.checkIssued(caX509));
      assert.ok(caX509.verify(caX509.publicKey));
    });

    it('uses a 3072-bit RSA key matching the key file', () => {
      assert.equal(caX509.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
      assert.ok(caX509.checkPrivateKey(createPrivateKey(ca.keyPem)));
    });
  });

  describe('client certificate', () => {
    it('is issued and signed by the CA', () => {
      assert.ok(clientX509.checkIssued(caX509));
      assert.ok(clientX509.verify(caX509.publicKey));
      assert.equal(clientX509.ca, false);
    });

    it('carries name, role and organization in its subject', () => {
      assert.equal(clientX509.subject, 'CN=alice\nOU=user\nO=jobworker');
    });

    it('is for client authentication only', () => {
      assert.deepEqual(clientX509.keyUsage, [CLIENT_AUTH_OID]);
      assert.ok(!clientX509.keyUsage?.includes(SERVER_AUTH_OID));
    });

    it('uses a 2048-bit key matching the key file', () => {
      assert.equal(clientX509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.ok(clientX509.checkPrivateKey(createPrivateKey(client.keyPem)));
      assert.match(client.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    });

    it('is valid from five minutes ago for the requested number of days', () => {
      const now = Date.now();
      const notBefore = Date.parse(clientX509.validFrom);
      const notAfter = Date.parse(clientX509.validTo);
      assert.ok(Math.abs(notBefore - (now - 5 * MINUTE_MS)) < MINUTE_MS);
      assert.ok(Math.abs(notAfter - (now + 10 * DAY_MS)) < MINUTE_MS);
    });
  });

  describe('server certificate', () => {
    it('is issued and signed by the CA', () => {
      assert.ok(serverX509.checkIssued(caX509));
      assert.ok(serverX509.verify(caX509.publicKey));
      assert.equal(serverX509.ca, false);
    });

    it('names localhost and the loopback addresses as IP entries', () => {
      assert.equal(serverX509.checkHost('localhost'), 'localhost');
      assert.equal(serverX509.checkIP('127.0.0.1'), '127.0.0.1');
      assert.equal(serverX509.checkIP('::1'), '::1');
      assert.match(serverX509.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    });

    it('is for server authentication, and client authentication to a syslog collector', () => {
      assert.deepEqual(serverX509.keyUsage?.sort(), [SERVER_AUTH_OID, '1.3.6.1.5.5.7.3.2']);
    });
  });

  describe('serial numbers', () => {
    it('are random, positive and at least 64 bits long', () => {
      const serials = [caX509, serverX509, clientX509].map((cert) => cert.serialNumber);
      assert.equal(new Set(serials).size, serials.length);
      for (const serial of serials) {
        assert.ok(serialBits(serial) >= 64, `serial ${serial} is shorter than 64 bits`);
        assert.ok(serialBits(serial) <= 127, `serial ${serial} would be negative`);
      }
    });
  });

  describe('validation', () => {
    for (const name of ['../x', 'Alice', '', '.hidden', '-rf', 'a/b', 'a'.repeat(64)]) {
      it(`rejects client name ${JSON.stringify(name)}`, () =>
        rejectsWithCode(
          issueClientCertificate(ca, { name, role: 'user', days: 1 }),
          'PKI_INVALID_NAME',
        ));
    }

    it('rejects an unknown role', () =>
      rejectsWithCode(
        issueClientCertificate(ca, { name: 'mallory', role: 'root' as unknown as Role, days: 1 }),
        'PKI_INVALID_ROLE',
      ));

    it('explains what was expected and received', () =>
      assert.rejects(issueClientCertificate(ca, { name: 'Alice', role: 'user', days: 1 }), {
        message: /expected .*received "Alice"/,
      }));

    it('rejects a validity that is not a positive whole number of days', async () => {
      for (const days of [0, -1, 1.5, Number.NaN]) {
        await rejectsWithCode(
          issueClientCertificate(ca, { name: 'bob', role: 'user', days }),
          'PKI_INVALID_VALIDITY',
        );
      }
    });

    it('rejects an alternative name that is neither a DNS name nor an IP address', () =>
      rejectsWithCode(
        issueServerCertificate(ca, { commonName: 'x', altNames: ['not a host!'], days: 1 }),
        'PKI_INVALID_ALT_NAME',
      ));

    it('rejects a server certificate without alternative names', () =>
      rejectsWithCode(
        issueServerCertificate(ca, { commonName: 'x', altNames: [], days: 1 }),
        'PKI_INVALID_ALT_NAME',
      ));

    it('refuses to sign with a certificate that is not a CA', () =>
      rejectsWithCode(
        issueClientCertificate(server, { name: 'bob', role: 'user', days: 1 }),
        'PKI_INVALID_CA',
      ));

    it('refuses a CA whose key does not match its certificate', () =>
      rejectsWithCode(
        issueClientCertificate(
          { certPem: ca.certPem, keyPem: client.keyPem },
          { name: 'bob', role: 'user', days: 1 },
        ),
        'PKI_INVALID_CA',
      ));
  });
});
