// PKCS#12 bundles, proven with their real consumers: Node's TLS (a mutual-TLS handshake using
// nothing but the .p12 and its password) and OpenSSL 3 without its legacy provider.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type IssuedCredential,
} from '../../src/pki/certificates.ts';
import { identityFromSubject } from '../../src/pki/identity.ts';
import { generateP12Password, toPkcs12 } from '../../src/pki/pkcs12.ts';
import { makeTempDir, openssl } from './helpers.ts';

function pemBlocks(text: string, label: string): string[] {
  return text.match(new RegExp(`-----BEGIN ${label}-----[^-]+-----END ${label}-----`, 'g')) ?? [];
}

describe('toPkcs12', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let ca: IssuedCredential;
  let server: IssuedCredential;
  let alice: IssuedCredential;
  let password: string;
  let p12: Buffer;
  let p12Path: string;

  before(async () => {
    dir = await makeTempDir();
    ca = await createCertificateAuthority({ commonName: 'test CA', days: 1 });
    [server, alice] = await Promise.all([
      issueServerCertificate(ca, { commonName: 'localhost', altNames: ['127.0.0.1'], days: 1 }),
      issueClientCertificate(ca, { name: 'alice', role: 'user', days: 1 }),
    ]);
    password = generateP12Password();
    p12 = toPkcs12(alice, ca.certPem, password, 'alice@jobworker');
    p12Path = join(dir.path, 'alice.p12');
    await writeFile(p12Path, p12);
  });

  after(() => dir.remove());

  describe('Node', () => {
    it('loads it with the password and refuses a wrong one', () => {
      assert.doesNotThrow(() => tls.createSecureContext({ pfx: p12, passphrase: password }));
      assert.throws(() => tls.createSecureContext({ pfx: p12, passphrase: `${password}x` }), {
        message: /mac verify failure/,
      });
    });

    it('authenticates over mutual TLS 1.3 with nothing but the .p12 and its password', async () => {
      const tlsServer = tls.createServer({
        ca: ca.certPem,
        cert: server.certPem,
        key: server.keyPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      });
      try {
        tlsServer.listen(0, '127.0.0.1');
        await once(tlsServer, 'listening');
        const accepted = once(tlsServer, 'secureConnection') as Promise<[tls.TLSSocket]>;
        // No `ca` option: the CA certificate inside the bundle is what the client trusts.
        const client = tls.connect({
          host: '127.0.0.1',
          port: (tlsServer.address() as AddressInfo).port,
          servername: 'localhost',
          pfx: p12,
          passphrase: password,
          minVersion: 'TLSv1.3',
        });
        await once(client, 'secureConnect');
        assert.equal(client.authorized, true, String(client.authorizationError));
        const [socket] = await accepted;
        assert.equal(socket.authorized, true);
        assert.deepEqual(identityFromSubject(socket.getPeerCertificate().subject), {
          name: 'alice',
          role: 'user',
        });
        socket.end();
        client.destroy();
      } finally {
        tlsServer.close();
      }
    });
  });

  describe('OpenSSL 3, without -legacy', () => {
    it('prints the key and both certificates', async () => {
      const { status, output } = await openssl([
        'pkcs12',
        '-in',
        p12Path,
        '-passin',
        `pass:${password}`,
        '-nodes',
      ]);
      assert.equal(status, 0, output);
      const [leaf, caCert, ...others] = pemBlocks(output, 'CERTIFICATE');
      assert.equal(others.length, 0);
      assert.equal(
        new X509Certificate(leaf ?? '').fingerprint256,
        new X509Certificate(alice.certPem).fingerprint256,
      );
      assert.equal(
        new X509Certificate(caCert ?? '').fingerprint256,
        new X509Certificate(ca.certPem).fingerprint256,
      );
      const keys = pemBlocks(output, 'PRIVATE KEY');
      assert.equal(keys.length, 1);
      assert.ok(
        new X509Certificate(alice.certPem).checkPrivateKey(createPrivateKey(keys[0] ?? '')),
      );
    });

    it('prints only the certificates with -nokeys', async () => {
      const { status, output } = await openssl([
        'pkcs12',
        '-in',
        p12Path,
        '-passin',
        `pass:${password}`,
        '-nokeys',
      ]);
      assert.equal(status, 0, output);
      assert.equal(pemBlocks(output, 'CERTIFICATE').length, 2);
      assert.doesNotMatch(output, /PRIVATE KEY/);
    });

    it('shows AES-256 under PBES2 and the friendly name', async () => {
      const { status, output } = await openssl([
        'pkcs12',
        '-in',
        p12Path,
        '-passin',
        `pass:${password}`,
        '-info',
        '-nodes',
      ]);
      assert.equal(status, 0, output);
      assert.match(
        output,
        /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/,
      );
      // On both the key and the leaf certificate, which is how importers pair them.
      assert.equal(output.match(/friendlyName: alice@jobworker/g)?.length, 2);
    });

    it('refuses a wrong password', async () => {
      const { status, output } = await openssl([
        'pkcs12',
        '-in',
        p12Path,
        '-passin',
        'pass:wrong-password',
        '-nodes',
      ]);
      assert.notEqual(status, 0);
      assert.match(output, /Mac verify error: invalid password\?/);
      assert.doesNotMatch(output, /PRIVATE KEY/);
    });
  });

  describe('validation', () => {
    it('refuses passwords OpenSSL would read differently, or too short to matter', () => {
      for (const bad of ['', 'short', 'pässwörd-long-enough', 'tab\tinside-password']) {
        assert.throws(() => toPkcs12(alice, ca.certPem, bad, 'alice'), {
          code: 'PKI_INVALID_PASSWORD',
        });
      }
    });

    it('refuses a key that does not match the certificate', () => {
      assert.throws(
        () =>
          toPkcs12({ certPem: alice.certPem, keyPem: server.keyPem }, ca.certPem, password, 'a'),
        { code: 'PKI_INVALID_CREDENTIAL' },
      );
      assert.throws(
        () => toPkcs12({ certPem: alice.certPem, keyPem: 'nope' }, ca.certPem, password, 'a'),
        { code: 'PKI_INVALID_CREDENTIAL' },
      );
    });

    it('refuses a CA that did not issue the certificate', () => {
      assert.throws(() => toPkcs12(alice, server.certPem, password, 'alice'), {
        code: 'PKI_INVALID_CA',
      });
    });

    it('refuses an empty or overlong friendly name', () => {
      for (const name of ['', 'x'.repeat(65)]) {
        assert.throws(() => toPkcs12(alice, ca.certPem, password, name), {
          code: 'PKI_INVALID_NAME',
        });
      }
    });
  });
});

describe('generateP12Password', () => {
  it('returns 24 random base64url characters', () => {
    const passwords = Array.from({ length: 20 }, generateP12Password);
    for (const password of passwords) assert.match(password, /^[A-Za-z0-9_-]{24}$/);
    assert.equal(new Set(passwords).size, passwords.length);
  });
});
