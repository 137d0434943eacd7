// The server's TLS configuration as an outside scanner sees it: sslscan (Debian's package,
// installed by scripts/install-system-packages.ts) against the real server on loopback finds
// TLS 1.3 only, only AEAD suites, no renegotiation, no compression, no Heartbleed, modern groups
// and a 2048-bit or larger key. What sslscan cannot check here is checked by hand: its OpenSSL is
// built without zlib, so compression is probed with a ClientHello we write ourselves.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);
const AEAD_SUITE = /^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/;

/** Every `<name attr="value" ...>` element of sslscan's XML report, as attribute maps. */
function elements(xml: string, name: string): Record<string, string>[] {
  return [...xml.matchAll(new RegExp(`<${name}\\s([^>]*?)/?>`, 'g'))].map((match) => {
    const attributes: Record<string, string> = {};
    for (const [, key, value] of (match[1] ?? '').matchAll(/([\w-]+)="([^"]*)"/g)) {
      attributes[key!] = value!;
    }
    return attributes;
  });
}

/** Handshake record with a TLS 1.3 ClientHello (x25519 key share) offering these compressions. */
function clientHello(compressionMethods: readonly number[]): Buffer {
  const u16 = (value: number): Buffer => Buffer.from([value >> 8, value & 0xff]);
  const withLength16 = (body: Buffer): Buffer => Buffer.concat([u16(body.length), body]);
  const extension = (type: number, body: Buffer): Buffer =>
    Buffer.concat([u16(type), withLength16(body)]);
  const publicKey = generateKeyPairSync('x25519')
    .publicKey.export({ format: 'der', type: 'spki' })
    .subarray(-32);
  const extensions = Buffer.concat([
    extension(0x002b, Buffer.from([2, 0x03, 0x04])), // supported_versions: TLS 1.3
    extension(0x000a, withLength16(u16(0x001d))), // supported_groups: x25519
    extension(0x000d, withLength16(Buffer.from([0x08, 0x04, 0x08, 0x05, 0x04, 0x03]))),
    extension(0x0033, withLength16(Buffer.concat([u16(0x001d), withLength16(publicKey)]))),
  ]);
  const hello = Buffer.concat([
    u16(0x0303),
    randomBytes(32),
    Buffer.from([32]),
    randomBytes(32),
    withLength16(Buffer.from([0x13, 0x01, 0x13, 0x02, 0x13, 0x03])),
    Buffer.from([compressionMethods.length, ...compressionMethods]),
    withLength16(extensions),
  ]);
  const handshake = Buffer.concat([
    Buffer.from([0x01, hello.length >> 16, (hello.length >> 8) & 0xff, hello.length & 0xff]),
    hello,
  ]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), withLength16(handshake)]);
}

/** What the server answers a raw ClientHello with: a ServerHello, or an alert and its code. */
function firstAnswer(
  port: number,
  hello: Buffer,
): Promise<{ kind: 'server-hello' } | { kind: 'alert'; description: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(hello));
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer to the ClientHello within 5 s'));
    }, 5000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 7) return;
      clearTimeout(timer);
      socket.destroy();
      if (received[0] === 0x16 && received[5] === 0x02) resolve({ kind: 'server-hello' });
      else if (received[0] === 0x15) resolve({ kind: 'alert', description: received[6]! });
      else reject(new Error(`unexpected answer ${received.subarray(0, 7).toString('hex')}`));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe('TLS configuration seen by a scanner', () => {
  let server: TestServer;
  let xml: string;
  let text: string;

  before(async () => {
    server = await startServer();
    const target = `127.0.0.1:${server.port}`;
    // No client certificate is needed: the server completes the handshake with anyone and
    // refuses clients without a valid certificate right after it, before any HTTP.
    const options = { timeout: 60_000, maxBuffer: 4 * 1024 * 1024 };
    xml = (await run('sslscan', ['--no-colour', '--show-sigs', '--xml=-', target], options)).stdout;
    text = (await run('sslscan', ['--no-colour', target], options)).stdout;
  });
  after(async () => {
    await server.dispose();
  });

  it('offers TLS 1.3 and nothing older', () => {
    const enabled = Object.fromEntries(
      elements(xml, 'protocol').map((p) => [`${p.type} ${p.version}`, p.enabled]),
    );
    assert.deepEqual(enabled, {
      'ssl 2': '0',
      'ssl 3': '0',
      'tls 1.0': '0',
      'tls 1.1': '0',
      'tls 1.2': '0',
      'tls 1.3': '1',
    });
  });

  it('accepts only AEAD cipher suites', () => {
    const ciphers = elements(xml, 'cipher');
    assert.ok(ciphers.length > 0, 'sslscan found the accepted suites');
    for (const cipher of ciphers) {
      assert.equal(cipher.sslversion, 'TLSv1.3');
      assert.match(cipher.cipher ?? '', AEAD_SUITE);
      assert.ok(Number(cipher.bits) >= 128);
    }
    assert.ok(ciphers.some((cipher) => cipher.status === 'preferred'));
  });

  it('negotiates no renegotiation and is not vulnerable to Heartbleed', () => {
    // TLS 1.3 has no renegotiation at all; sslscan reports it as not supported.
    assert.deepEqual(elements(xml, 'renegotiation'), [{ supported: '0', secure: '0' }]);
    assert.match(text, /Session renegotiation not supported/);
    const heartbleed = elements(xml, 'heartbleed');
    assert.ok(heartbleed.length > 0);
    for (const probe of heartbleed) assert.equal(probe.vulnerable, '0');
  });

  it('uses only key exchange groups of 128 bits or more, and RSA-PSS signatures', () => {
    const groups = elements(xml, 'group');
    assert.ok(groups.length > 0);
    for (const group of groups) assert.ok(Number(group.bits) >= 128, group.name);
    const signatures = elements(xml, 'connection-signature-algorithm');
    assert.ok(signatures.length > 0, 'sslscan enumerated the signature algorithms');
    for (const signature of signatures) assert.doesNotMatch(signature.name ?? '', /sha1|md5/i);
  });

  it('presents a certificate with a 2048-bit or larger key, a SHA-2 signature, in date', () => {
    const key = elements(xml, 'pk')[0];
    assert.ok(key !== undefined, 'sslscan read the certificate');
    assert.equal(key.error, 'false');
    assert.ok(Number(key.bits) >= (key.type === 'EC' ? 256 : 2048), JSON.stringify(key));
    assert.match(xml, /<signature-algorithm>sha(256|384|512)With/);
    assert.match(xml, /<expired>false<\/expired>/);
    assert.match(xml, /<self-signed>false<\/self-signed>/);
  });

  it('uses no TLS compression', async () => {
    const scanned = elements(xml, 'compression');
    if (scanned.length > 0) {
      for (const entry of scanned) assert.equal(entry.supported, '0');
    } else {
      // sslscan's OpenSSL has no zlib ("OpenSSL version does not support compression"), so
      // it cannot ask. We ask: a TLS 1.3 ClientHello that offers DEFLATE must be refused with
      // illegal_parameter (RFC 8446 §4.1.2), while the same hello without it is answered.
      assert.match(text, /TLS Compression:\s*\n.*(not support|disabled)/i);
    }
    assert.deepEqual(await firstAnswer(server.port, clientHello([0])), { kind: 'server-hello' });
    assert.deepEqual(await firstAnswer(server.port, clientHello([1, 0])), {
      kind: 'alert',
      description: 47,
    });
  });

  it('refuses TLS 1.2 and older to a real client too', async () => {
    for (const flag of ['-tls1_2', '-tls1_1', '-tls1']) {
      const attempt = run(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${server.port}`, flag, '-servername', 'localhost'],
        { timeout: 10_000 },
      );
      // s_client exits non-zero when the handshake fails; its stdin is closed, so it never waits.
      attempt.child.stdin?.end();
      await assert.rejects(attempt, /alert|no protocols available|handshake failure/i, flag);
    }
  });

  it('let the scanner no further than the handshake', async () => {
    // The scanner's refusals, all from one address, are summarised: its first is logged at
    // once, the rest when the minute ends or, as here, when the server stops. The handshakes it
    // finished were refused for want of a certificate, and no request reached the application.
    await server.stop();
    const refusals = server.logs.filter((line) =>
      /^TLS (client|handshake) refused$/.test(String(line.msg)),
    );
    const summaries = server.logs.filter((line) => line.msg === 'TLS refusals summarised');
    assert.ok(refusals.length >= 1);
    const codes = new Set([
      ...refusals.map((line) => String(line.code)),
      ...summaries.flatMap((line) => Object.keys(line.codes as object)),
    ]);
    assert.ok(codes.has('NO_CLIENT_CERTIFICATE'), [...codes].join());
    assert.equal(
      server.logs.filter((line) => line.msg === 'request').length,
      0,
      'no HTTP request reached the application',
    );
  });
});
