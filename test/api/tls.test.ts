// Only clients with a certificate from the project's CA, speaking TLS 1.3, reach the API.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, issueClientCertificate } from '../../src/pki/certificates.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

describe('mutual TLS at the door', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  /** Resolves with the HTTP status, or rejects with the TLS/socket error that refused us. */
  function attempt(options: Record<string, unknown>): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/healthz',
          servername: 'localhost',
          ca: server.credentials('alice').ca,
          agent: false,
          ...options,
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      req.once('error', reject);
      req.end();
    });
  }

  it('accepts a development client', async () => {
    const { cert, key } = server.credentials('alice');
    assert.equal(await attempt({ cert, key }), 200);
  });

  it('refuses a client without a certificate: it gets only the page that asks for one', async () => {
    assert.equal(await attempt({}), 403);
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'impostor CA', days: 1 });
    const impostor = await issueClientCertificate(otherCa, {
      name: 'alice',
      role: 'admin',
      days: 1,
    });
    await assert.rejects(
      attempt({ cert: impostor.certPem, key: impostor.keyPem }),
      /unknown ca|certificate|alert|ECONNRESET|socket hang up/i,
    );
  });

  it('refuses a TLS 1.2-only client', async () => {
    const { cert, key } = server.credentials('alice');
    await assert.rejects(
      attempt({ cert, key, maxVersion: 'TLSv1.2' }),
      /protocol version|alert|version/i,
    );
  });

  it('logs who was refused and why, the later refusals of a source summarised', async () => {
    // The first refusal of each source is logged at once: an address for a client without a
    // certificate, the certificate for one that presented it.
    const refused = (line: Record<string, unknown>): boolean => line.msg === 'TLS client refused';
    await server.waitForLog((line) => refused(line) && line.code === 'NO_CLIENT_CERTIFICATE', 0);
    const impostor = await server.waitForLog(
      (line) => refused(line) && line.reason === "certificate not issued by this server's CA",
      0,
    );
    assert.match(JSON.stringify(impostor.subject), /alice/);
    // The TLS 1.2 client never completes a handshake, and is the second refusal from 127.0.0.1
    // this minute: it is counted in the address's summary, logged when the minute ends or, as
    // here, when the server stops.
    await server.stop();
    const summary = server.logs.find(
      (line) => line.msg === 'TLS refusals summarised' && line.remoteAddress === '127.0.0.1',
    );
    assert.equal(summary?.count, 1);
    assert.match(Object.keys(summary?.codes ?? {}).join(), /PROTOCOL|VERSION/);
  });
});
