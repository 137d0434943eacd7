// The development PKI end to end: files on disk, idempotence, recovery from an interrupted
// run, and a real TLS 1.3 mutual-authentication handshake with the generated credentials.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import forge from 'node-forge';
import tls from 'node:tls';
import { isDnsName } from '../../src/pki/alt-names.ts';
import { createCertificateAuthority, issueClientCertificate } from '../../src/pki/certificates.ts';
import {
  DEVELOPMENT_CLIENTS,
  DEVELOPMENT_P12_PASSWORD,
  ensureDevelopmentPki,
} from '../../src/pki/development-pki.ts';
import { identityFromSubject, type Identity } from '../../src/pki/identity.ts';
import { pkiLayout, type PkiLayout } from '../../src/pki/layout.ts';
import { CLIENT_AUTH_OID, fileMode, makeTempDir } from './helpers.ts';

type PemPair = { cert: string; key: string };

async function readPair(paths: { cert: string; key: string }): Promise<PemPair> {
  return { cert: await readFile(paths.cert, 'utf8'), key: await readFile(paths.key, 'utf8') };
}

function isCa(cert: forge.pki.Certificate): boolean {
  const constraints = cert.getExtension('basicConstraints') as { cA?: boolean } | null;
  return constraints?.cA === true;
}

describe('ensureDevelopmentPki', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let layout: PkiLayout;
  let firstResult: Awaited<ReturnType<typeof ensureDevelopmentPki>>;

  before(async () => {
    dir = await makeTempDir();
    layout = pkiLayout(dir.path);
    firstResult = await ensureDevelopmentPki(dir.path);
  });

  after(() => dir.remove());

  it('creates the PKI once and leaves it alone afterwards', async () => {
    assert.deepEqual(firstResult, { created: true, clients: ['admin', 'alice', 'bob', 'auditor'] });
    const caBefore = await readFile(layout.caCert, 'utf8');
    assert.deepEqual(await ensureDevelopmentPki(dir.path), { created: false, clients: [] });
    assert.equal(await readFile(layout.caCert, 'utf8'), caBefore);
  });

  it('keeps private keys 0600, certificates 0644 and client directories 0700', async () => {
    for (const key of [layout.caKey, layout.serverKey]) assert.equal(await fileMode(key), 0o600);
    for (const cert of [layout.caCert, layout.serverCert])
      assert.equal(await fileMode(cert), 0o644);
    for (const { name } of DEVELOPMENT_CLIENTS) {
      const paths = layout.client(name);
      assert.equal(await fileMode(paths.dir), 0o700);
      assert.equal(await fileMode(paths.key), 0o600);
      assert.equal(await fileMode(paths.cert), 0o644);
    }
  });

  it('issues every client certificate from the CA with its role', async () => {
    const ca = new X509Certificate(await readFile(layout.caCert));
    assert.equal(ca.ca, true);
    assert.equal(ca.subject, 'CN=jobworker development CA');
    for (const { name, role } of DEVELOPMENT_CLIENTS) {
      const cert = new X509Certificate(await readFile(layout.client(name).cert));
      assert.ok(cert.verify(ca.publicKey), `${name} is not signed by the CA`);
      assert.equal(cert.subject, `CN=${name}\nOU=${role}\nO=jobworker`);
      assert.deepEqual(cert.keyUsage, [CLIENT_AUTH_OID]);
    }
  });

  it('gives every client a client.p12 (0600) that opens with the documented password', async () => {
    for (const { name } of DEVELOPMENT_CLIENTS) {
      const paths = layout.client(name);
      assert.equal(await fileMode(paths.p12), 0o600);
      const bundle = await readFile(paths.p12);
      // Node (as OpenSSL) opens it with the password, and refuses it without.
      tls.createSecureContext({ pfx: bundle, passphrase: DEVELOPMENT_P12_PASSWORD });
      assert.throws(() => tls.createSecureContext({ pfx: bundle, passphrase: 'wrong-password' }));
      const p12 = forge.pkcs12.pkcs12FromAsn1(
        forge.asn1.fromDer(bundle.toString('binary')),
        DEVELOPMENT_P12_PASSWORD,
      );
      const bags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag!] ?? [];
      // The leaf is the certificate that is not the CA.
      const leaf = bags.map((bag) => bag.cert).find((cert) => cert !== undefined && !isCa(cert));
      assert.ok(leaf !== undefined, name);
      const inBundle = new X509Certificate(forge.pki.certificateToPem(leaf));
      const onDisk = new X509Certificate(await readFile(paths.cert));
      assert.equal(inBundle.fingerprint256, onDisk.fingerprint256, name);
    }
  });

  it('writes the bundles an existing PKI lacks', async () => {
    await rm(layout.client('bob').p12);
    await ensureDevelopmentPki(dir.path);
    assert.equal(await fileMode(layout.client('bob').p12), 0o600);
  });

  it('names this machine in the server certificate', async () => {
    const server = new X509Certificate(await readFile(layout.serverCert));
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(server.checkIP('::1'), '::1');
    if (isDnsName(hostname())) assert.ok(server.checkHost(hostname()));
  });

  it('regenerates everything when an earlier run stopped before writing ca.pem', async () => {
    const other = await makeTempDir();
    try {
      await ensureDevelopmentPki(other.path);
      const otherLayout = pkiLayout(other.path);
      const serverBefore = await readFile(otherLayout.serverCert, 'utf8');
      await rm(otherLayout.caCert);
      assert.equal((await ensureDevelopmentPki(other.path)).created, true);
      const ca = new X509Certificate(await readFile(otherLayout.caCert));
      const server = new X509Certificate(await readFile(otherLayout.serverCert));
      assert.notEqual(server.toString(), serverBefore);
      assert.ok(server.verify(ca.publicKey));
    } finally {
      await other.remove();
    }
  });

  describe('TLS 1.3 mutual authentication', () => {
    let server: tls.Server;
    let port: number;
    let caPem: string;
    const serverSockets = new Set<tls.TLSSocket>();

    before(async () => {
      caPem = await readFile(layout.caCert, 'utf8');
      const credential = await readPair({ cert: layout.serverCert, key: layout.serverKey });
      server = tls.createServer(
        {
          ...credential,
          ca: caPem,
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.3',
        },
        (socket) => {
          serverSockets.add(socket);
          socket.once('close', () => serverSockets.delete(socket));
          const identity = identityFromSubject(socket.getPeerCertificate().subject);
          socket.end(JSON.stringify({ authorized: socket.authorized, identity }));
        },
      );
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });

    after(async () => {
      for (const socket of serverSockets) socket.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    });

    type Outcome = {
      response: string;
      error: Error | undefined;
      clientAuthorized: boolean;
      protocol: string | null;
    };

    /** Connects, reads until the server closes, and always ends with the socket closed. */
    async function exchange(clientCredential: PemPair | undefined): Promise<Outcome> {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: caPem,
        minVersion: 'TLSv1.3',
        ...clientCredential,
      });
      let response = '';
      let error: Error | undefined;
      let clientAuthorized = false;
      let protocol: string | null = null;
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (response += chunk));
      socket.on('error', (caught: Error) => (error = caught));
      socket.once('secureConnect', () => {
        clientAuthorized = socket.authorized;
        protocol = socket.getProtocol();
      });
      // Not events.once: it would reject on the 'error' that rejected handshakes produce.
      await new Promise((resolve) => socket.once('close', resolve));
      return { response, error, clientAuthorized, protocol };
    }

    /** The server must refuse the handshake, for the given reason, before serving anything. */
    async function expectRejected(
      clientCredential: PemPair | undefined,
      expectedReason: string,
    ): Promise<void> {
      const serverSawFailure = once(server, 'tlsClientError');
      const outcome = await exchange(clientCredential);
      const [error, socket] = (await serverSawFailure) as [NodeJS.ErrnoException, tls.TLSSocket];
      assert.equal(outcome.response, '');
      // OpenSSL aborts a missing certificate itself; a bad one fails Node's check afterwards,
      // which records the verification error on the socket.
      const reason: unknown = socket.authorizationError ?? error.code;
      assert.equal(reason, expectedReason);
    }

    it('authenticates alice as a user over TLS 1.3', async () => {
      const outcome = await exchange(await readPair(layout.client('alice')));
      assert.equal(outcome.error, undefined);
      assert.equal(outcome.protocol, 'TLSv1.3');
      assert.equal(outcome.clientAuthorized, true, 'the client should trust the server');
      const reply = JSON.parse(outcome.response) as { authorized: boolean; identity: Identity };
      assert.equal(reply.authorized, true);
      assert.deepEqual(reply.identity, { name: 'alice', role: 'user' });
    });

    it('rejects a client without a certificate', () =>
      expectRejected(undefined, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'));

    it('rejects a client certificate from another CA', async () => {
      const foreignCa = await createCertificateAuthority({ commonName: 'other CA', days: 1 });
      const foreign = await issueClientCertificate(foreignCa, {
        name: 'alice',
        role: 'admin',
        days: 1,
      });
      await expectRejected(
        { cert: foreign.certPem, key: foreign.keyPem },
        'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      );
    });

    it('gives the server a certificate for both ends of TLS: serving, and shipping its logs', async () => {
      // serverAuth for its API; clientAuth for a syslog collector (--syslog). It names no client
      // of the API (test/logging/syslog.test.ts shows the API refusing it as one). A client
      // certificate without clientAuth is refused: test/pki/crl.test.ts.
      const { cert } = await readPair({ cert: layout.serverCert, key: layout.serverKey });
      assert.deepEqual(new X509Certificate(cert).keyUsage?.sort(), [
        '1.3.6.1.5.5.7.3.1',
        '1.3.6.1.5.5.7.3.2',
      ]);
    });
  });
});
