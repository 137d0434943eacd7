// Certificate revocation lists, proven with their real consumers: openssl's crl and verify
// commands, and Node's TLS server, which must refuse a revoked client while serving the others.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import forge from 'node-forge';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type IssuedCredential,
} from '../../src/pki/certificates.ts';
import {
  createCrl,
  normalizeSerial,
  parseCrl,
  verifyCrl,
  type CrlOptions,
} from '../../src/pki/crl.ts';
import { PkiError } from '../../src/pki/errors.ts';
import { makeTempDir, openssl } from './helpers.ts';
import { issueUnusualClientCertificate } from './unusual-certificates.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
// The top bit is set, so DER needs a 0x00 byte in front to keep it positive.
const SUPERSEDED_SERIAL = 'ff0102';
// Leading zeros in the input must not change the number.
const UNSPECIFIED_SERIAL = '000abc';
// Its first byte is below 0x10, so Node prints it with a leading zero: "0A0B...".
const LEADING_ZERO_SERIAL = `0a${'0b'.repeat(15)}`;

function serialOf(credential: IssuedCredential): string {
  return new X509Certificate(credential.certPem).serialNumber;
}

function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof PkiError, `expected a PkiError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

function crlPem(der: Buffer): string {
  return `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
}

function tomorrow(): Date {
  return new Date(Date.now() + DAY_MS);
}

describe('certificate revocation lists', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let ca: IssuedCredential;
  let otherCa: IssuedCredential;
  let server: IssuedCredential;
  let alice: IssuedCredential;
  let mallory: IssuedCredential;
  let leadingZero: IssuedCredential;
  let crl: string;
  let path: { ca: string; crl: string; alice: string; mallory: string };

  before(async () => {
    dir = await makeTempDir();
    [ca, otherCa] = await Promise.all([
      createCertificateAuthority({ commonName: 'test CA', days: 30 }),
      // Same name, different key: only the signature can tell the two apart.
      createCertificateAuthority({ commonName: 'test CA', days: 30 }),
    ]);
    [server, alice, mallory, leadingZero] = await Promise.all([
      issueServerCertificate(ca, { commonName: 'localhost', altNames: ['127.0.0.1'], days: 1 }),
      issueClientCertificate(ca, { name: 'alice', role: 'user', days: 1 }),
      issueClientCertificate(ca, { name: 'mallory', role: 'user', days: 1 }),
      issueUnusualClientCertificate(ca, {
        name: 'zed',
        extKeyUsage: 'clientAuth',
        serialNumber: LEADING_ZERO_SERIAL,
      }),
    ]);
    crl = await createCrl(ca, {
      entries: [
        { serialHex: serialOf(mallory), revokedAt: new Date(), reason: 'keyCompromise' },
        { serialHex: SUPERSEDED_SERIAL, revokedAt: new Date(), reason: 'superseded' },
        { serialHex: UNSPECIFIED_SERIAL, revokedAt: new Date(), reason: 'unspecified' },
        // Node's form of the serial, uppercase with its leading zero.
        { serialHex: serialOf(leadingZero), revokedAt: new Date() },
      ],
      crlNumber: 42n,
      nextUpdate: tomorrow(),
    });
    path = {
      ca: join(dir.path, 'ca.pem'),
      crl: join(dir.path, 'crl.pem'),
      alice: join(dir.path, 'alice.pem'),
      mallory: join(dir.path, 'mallory.pem'),
    };
    await Promise.all([
      writeFile(path.ca, ca.certPem),
      writeFile(path.crl, crl),
      writeFile(path.alice, alice.certPem),
      writeFile(path.mallory, mallory.certPem),
    ]);
  });

  after(() => dir.remove());

  describe('contents', () => {
    it('lists every revoked serial, normalised, with its reason', () => {
      const parsed = parseCrl(crl);
      assert.deepEqual(
        parsed.entries.map(({ serial, reason }) => ({ serial, reason })),
        [
          { serial: normalizeSerial(serialOf(mallory)), reason: 'keyCompromise' },
          { serial: 'ff0102', reason: 'superseded' },
          // RFC 5280 §5.3.1: "unspecified" is said by leaving the reason code out.
          { serial: 'abc', reason: undefined },
          { serial: LEADING_ZERO_SERIAL.replace(/^0/, ''), reason: undefined },
        ],
      );
      assert.ok(parsed.revokedSerials.has(normalizeSerial(serialOf(mallory))));
      assert.ok(!parsed.revokedSerials.has(normalizeSerial(serialOf(alice))));
    });

    it('carries its number and is valid from five minutes ago until nextUpdate', () => {
      const parsed = parseCrl(crl);
      assert.equal(parsed.crlNumber, 42n);
      assert.ok(Math.abs(parsed.thisUpdate.getTime() - (Date.now() - 5 * MINUTE_MS)) < MINUTE_MS);
      assert.ok(Math.abs(parsed.nextUpdate.getTime() - tomorrow().getTime()) < MINUTE_MS);
    });

    it("names the CA exactly as the CA's certificate does, and its key identifier", () => {
      const parsed = parseCrl(crl);
      const caCert = forge.pki.certificateFromPem(ca.certPem);
      const subjectDer = forge.asn1.toDer(forge.pki.distinguishedNameToAsn1(caCert.subject));
      assert.equal(parsed.issuerDer.toString('binary'), subjectDer.getBytes());
      const ski = caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string };
      assert.equal(parsed.authorityKeyIdentifier?.toString('hex'), ski.subjectKeyIdentifier);
    });

    it('encodes serial numbers as minimal positive INTEGERs', () => {
      const { tbsDer } = parseCrl(crl);
      assert.ok(tbsDer.includes(Buffer.from('020400ff0102', 'hex')), '0x00 before a set top bit');
      assert.ok(tbsDer.includes(Buffer.from('02020abc', 'hex')), 'no redundant leading zeros');
    });

    it('uses UTCTime through 2049 and GeneralizedTime from 2050 on', async () => {
      const lastUtc = new Date('2049-12-31T23:59:59Z');
      const firstGeneralized = new Date('2050-01-01T00:00:00Z');
      const pem = await createCrl(ca, {
        entries: [{ serialHex: '01', revokedAt: lastUtc }],
        crlNumber: 1,
        thisUpdate: new Date('2049-01-01T00:00:00Z'),
        nextUpdate: firstGeneralized,
      });
      const parsed = parseCrl(pem);
      assert.ok(parsed.tbsDer.includes(Buffer.from('\x17\x0d491231235959Z', 'binary')));
      assert.ok(parsed.tbsDer.includes(Buffer.from('\x18\x0f20500101000000Z', 'binary')));
      assert.deepEqual(parsed.entries[0]?.revokedAt, lastUtc);
      assert.deepEqual(parsed.nextUpdate, firstGeneralized);
    });

    it('leaves the revoked list out altogether when nothing is revoked', async () => {
      const pem = await createCrl(ca, { entries: [], crlNumber: 0, nextUpdate: tomorrow() });
      assert.equal(parseCrl(pem).revokedSerials.size, 0);
      const file = join(dir.path, 'empty-crl.pem');
      await writeFile(file, pem);
      const { status, output } = await openssl(['crl', '-in', file, '-noout', '-text']);
      assert.equal(status, 0, output);
      assert.match(output, /No Revoked Certificates/);
    });
  });

  describe('openssl', () => {
    it('parses it and shows the revoked serials with their reasons', async () => {
      const { status, output } = await openssl(['crl', '-in', path.crl, '-noout', '-text']);
      assert.equal(status, 0, output);
      assert.match(output, /Version 2 \(0x1\)/);
      assert.match(output, /Issuer: CN = test CA/);
      assert.match(output, /X509v3 CRL Number: \n\s+42\n/);
      assert.match(output, /X509v3 Authority Key Identifier/);
      assert.match(
        output,
        new RegExp(`Serial Number: ${serialOf(mallory)}\\n.*\\n.*\\n.*\\n\\s+Key Compromise`),
      );
      assert.match(output, /Serial Number: FF0102\n.*\n.*\n.*\n\s+Superseded/);
      assert.match(output, /Serial Number: 0ABC\n\s+Revocation Date: [^\n]+\n\s+Serial Number/);
    });

    it('verifies its signature against the CA', async () => {
      const { status, output } = await openssl([
        'crl',
        '-in',
        path.crl,
        '-CAfile',
        path.ca,
        '-noout',
      ]);
      assert.equal(status, 0, output);
      assert.match(output, /verify OK/);
    });

    it('refuses a revoked certificate and accepts the others', async () => {
      const verify = (cert: string, check: string) =>
        openssl(['verify', check, '-CAfile', path.ca, '-CRLfile', path.crl, cert]);
      const revoked = await verify(path.mallory, '-crl_check');
      assert.notEqual(revoked.status, 0);
      assert.match(revoked.output, /certificate revoked/);
      const valid = await verify(path.alice, '-crl_check');
      assert.equal(valid.status, 0, valid.output);
      assert.match(valid.output, /: OK/);
      // Node checks every certificate in the chain; the CA's own entry comes from the same CRL.
      const chain = await verify(path.alice, '-crl_check_all');
      assert.equal(chain.status, 0, chain.output);
    });
  });

  describe('verifyCrl', () => {
    it('accepts a CRL signed by the CA', () => {
      assert.equal(verifyCrl(crl, ca.certPem), true);
    });

    it('rejects a CA with the same name but another key', () => {
      assert.equal(verifyCrl(crl, otherCa.certPem), false);
    });

    it('rejects a certificate whose subject is not the issuer', () => {
      assert.equal(verifyCrl(crl, server.certPem), false);
    });

    it('rejects a CRL whose signed part was changed', () => {
      const der = derOf(crl);
      // The INTEGER 0x0abc, whose last byte becomes 0xbd.
      der[der.indexOf(Buffer.from('02020abc', 'hex')) + 3] = 0xbd;
      const tampered = crlPem(der);
      assert.ok(parseCrl(tampered).revokedSerials.has('abd'));
      assert.equal(verifyCrl(tampered, ca.certPem), false);
    });

    it('throws typed errors for input it cannot read', () => {
      assert.throws(() => verifyCrl('not a CRL', ca.certPem), { code: 'PKI_INVALID_CRL' });
      assert.throws(() => verifyCrl(crl, 'not a certificate'), { code: 'PKI_INVALID_CA' });
    });
  });

  describe('parseCrl', () => {
    it('refuses anything but one DER-encoded X509 CRL', () => {
      const der = derOf(crl);
      const truncated = crlPem(der.subarray(0, 100));
      for (const input of ['', 'garbage', ca.certPem, truncated, crl + crl]) {
        assert.throws(() => parseCrl(input), { code: 'PKI_INVALID_CRL' });
      }
    });
  });

  describe('parseCrl dates', () => {
    it('refuses a day that does not exist', () => {
      const der = derOf(crl);
      // thisUpdate is the first UTCTime: tag 0x17, 13 characters, YYMMDD first.
      const at = der.indexOf(Buffer.from([0x17, 0x0d])) + 2;
      der.write('0231', at + 2, 'latin1');
      const pem = crlPem(der);
      assert.throws(() => parseCrl(pem), { code: 'PKI_INVALID_CRL', message: /thisUpdate/ });
    });
  });

  describe('normalizeSerial', () => {
    it("matches Node's uppercase serials that keep a leading zero", () => {
      const nodeSerial = serialOf(leadingZero);
      assert.equal(nodeSerial, LEADING_ZERO_SERIAL.toUpperCase());
      assert.equal(normalizeSerial(nodeSerial), normalizeSerial(LEADING_ZERO_SERIAL));
      assert.ok(parseCrl(crl).revokedSerials.has(normalizeSerial(nodeSerial)));
    });

    it('keeps a single zero and refuses what is not hexadecimal', () => {
      assert.equal(normalizeSerial('000'), '0');
      assert.equal(normalizeSerial('00AbC'), 'abc');
      for (const bad of ['', '0x1f', '1F:2A', 'xyz']) {
        assert.throws(() => normalizeSerial(bad), { code: 'PKI_INVALID_SERIAL' });
      }
    });
  });

  describe('createCrl validation', () => {
    const options = (overrides: Partial<CrlOptions>): CrlOptions => ({
      entries: [],
      crlNumber: 1,
      nextUpdate: tomorrow(),
      ...overrides,
    });
    const revoking = (serialHex: string) => ({ serialHex, revokedAt: new Date() });

    it('refuses serial numbers that are not positive integers of at most 20 octets', async () => {
      for (const serialHex of ['xyz', '', '0', '00', 'ff'.repeat(20)]) {
        await rejectsWithCode(
          createCrl(ca, options({ entries: [revoking(serialHex)] })),
          'PKI_INVALID_SERIAL',
        );
      }
    });

    it('refuses the same serial twice, however it is written', () =>
      rejectsWithCode(
        createCrl(ca, options({ entries: [revoking('0ABC'), revoking('abc')] })),
        'PKI_INVALID_SERIAL',
      ));

    it('refuses reasons this CA does not state', () =>
      rejectsWithCode(
        createCrl(
          ca,
          options({
            entries: [{ ...revoking('01'), reason: 'cACompromise' as 'unspecified' }],
          }),
        ),
        'PKI_INVALID_REASON',
      ));

    it('refuses a nextUpdate that is not after thisUpdate, and invalid dates', async () => {
      const now = new Date();
      for (const overrides of [
        { thisUpdate: now, nextUpdate: now },
        { nextUpdate: new Date(Number.NaN) },
        { entries: [{ serialHex: '01', revokedAt: new Date(Number.NaN) }] },
        { nextUpdate: new Date('+010000-01-01T00:00:00Z') },
      ]) {
        await rejectsWithCode(createCrl(ca, options(overrides)), 'PKI_INVALID_VALIDITY');
      }
    });

    it('refuses CRL numbers that are negative, fractional or longer than 20 octets', async () => {
      for (const crlNumber of [-1, 1.5, -1n, 2n ** 159n]) {
        await rejectsWithCode(createCrl(ca, options({ crlNumber })), 'PKI_INVALID_CRL_NUMBER');
      }
    });

    it('accepts the largest 20-octet CRL number', async () => {
      const crlNumber = 2n ** 159n - 1n;
      assert.equal(parseCrl(await createCrl(ca, options({ crlNumber }))).crlNumber, crlNumber);
    });

    it('refuses to sign with a certificate that is not a CA', () =>
      rejectsWithCode(createCrl(server, options({})), 'PKI_INVALID_CA'));
  });

  describe('Node TLS server', () => {
    type ServerView =
      | { outcome: 'accepted'; serial: string }
      | {
          outcome: 'refused';
          code: string | undefined;
          message: string;
          authorizationError: unknown;
          peerCertificate: unknown;
        };

    let expired: IssuedCredential;
    let serverAuthOnly: IssuedCredential;
    let withoutExtKeyUsage: IssuedCredential;

    before(async () => {
      [expired, serverAuthOnly, withoutExtKeyUsage] = await Promise.all([
        issueUnusualClientCertificate(ca, {
          name: 'old',
          extKeyUsage: 'clientAuth',
          notBefore: new Date(Date.now() - 10 * DAY_MS),
          notAfter: new Date(Date.now() - DAY_MS),
        }),
        issueUnusualClientCertificate(ca, { name: 'srv', extKeyUsage: 'serverAuth' }),
        issueUnusualClientCertificate(ca, { name: 'any', extKeyUsage: 'none' }),
      ]);
    });

    /** What the server reports for one connection from `client`, with `crlPem` enforced. */
    async function serverSees(crlPem: string, client: IssuedCredential): Promise<ServerView> {
      const tlsServer = tls.createServer({
        ca: ca.certPem,
        cert: server.certPem,
        key: server.keyPem,
        crl: crlPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      });
      try {
        tlsServer.listen(0, '127.0.0.1');
        await once(tlsServer, 'listening');
        const view = nextServerView(tlsServer);
        await connectAndWaitForClose((tlsServer.address() as AddressInfo).port, client);
        return await view;
      } finally {
        tlsServer.close();
      }
    }

    function nextServerView(tlsServer: tls.Server): Promise<ServerView> {
      return new Promise((resolve) => {
        tlsServer.once('secureConnection', (socket: tls.TLSSocket) => {
          resolve({ outcome: 'accepted', serial: socket.getPeerCertificate().serialNumber });
          socket.end();
        });
        tlsServer.once('tlsClientError', (error: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
          resolve({
            outcome: 'refused',
            code: error.code,
            message: error.message,
            // A string such as 'CERT_REVOKED' at run time, despite its declared type.
            authorizationError: socket.authorizationError,
            peerCertificate: socket.getPeerCertificate(),
          });
        });
      });
    }

    async function connectAndWaitForClose(port: number, client: IssuedCredential): Promise<void> {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: ca.certPem,
        cert: client.certPem,
        key: client.keyPem,
        minVersion: 'TLSv1.3',
      });
      // In TLS 1.3 the client finishes its handshake before the server has checked its
      // certificate, so a refusal reaches the client only as the connection closing.
      socket.on('error', () => {});
      socket.resume();
      await once(socket, 'close');
    }

    /** Node destroys the socket itself, so the error is generic and the peer is gone. */
    function refusedFor(authorizationError: string): ServerView {
      return {
        outcome: 'refused',
        code: 'ECONNRESET',
        message: 'socket hang up',
        authorizationError,
        peerCertificate: null,
      };
    }

    it('serves a client that is not revoked, whose serial normalises like the CRL', async () => {
      const view = await serverSees(crl, alice);
      assert.equal(view.outcome, 'accepted');
      assert.equal(normalizeSerial(view.serial), normalizeSerial(serialOf(alice)));
      assert.ok(!parseCrl(crl).revokedSerials.has(normalizeSerial(view.serial)));
    });

    it('refuses a revoked client, with the reason only on socket.authorizationError', async () => {
      assert.deepEqual(await serverSees(crl, mallory), refusedFor('CERT_REVOKED'));
    });

    it('refuses a client revoked by the serial form Node prints', async () => {
      assert.deepEqual(await serverSees(crl, leadingZero), refusedFor('CERT_REVOKED'));
    });

    it('refuses an expired client certificate', async () => {
      assert.deepEqual(await serverSees(crl, expired), refusedFor('CERT_HAS_EXPIRED'));
    });

    it('refuses a certificate for server authentication only', async () => {
      assert.deepEqual(await serverSees(crl, serverAuthOnly), refusedFor('INVALID_PURPOSE'));
    });

    it('accepts a certificate without extKeyUsage, which OpenSSL reads as any purpose', async () => {
      assert.equal((await serverSees(crl, withoutExtKeyUsage)).outcome, 'accepted');
    });

    it('refuses every client once the CRL has expired', async () => {
      const stale = await createCrl(ca, {
        entries: [],
        crlNumber: 2,
        thisUpdate: new Date(Date.now() - 2 * DAY_MS),
        nextUpdate: new Date(Date.now() - DAY_MS),
      });
      assert.deepEqual(await serverSees(stale, alice), refusedFor('CRL_HAS_EXPIRED'));
    });

    it('refuses every client while the CRL is not yet valid', async () => {
      const early = await createCrl(ca, {
        entries: [],
        crlNumber: 3,
        thisUpdate: new Date(Date.now() + DAY_MS),
        nextUpdate: new Date(Date.now() + 2 * DAY_MS),
      });
      assert.deepEqual(await serverSees(early, alice), refusedFor('CRL_NOT_YET_VALID'));
    });

    it("refuses every client when the CRL is another CA's", async () => {
      const foreign = await createCrl(otherCa, {
        entries: [],
        crlNumber: 1,
        nextUpdate: tomorrow(),
      });
      assert.deepEqual(await serverSees(foreign, alice), refusedFor('UNABLE_TO_GET_CRL'));
    });
  });
});
