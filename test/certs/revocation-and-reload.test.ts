// The running server and its PKI: a revoked client is cut off within a second even on a
// keep-alive connection or with a resumable TLS session, while others keep working; a rotated
// server certificate and a new CRL are picked up without dropping connections; the identity
// policy overrides certificates; CRL expiry is loud.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { createCertificateAuthority } from '../../src/pki/certificates.ts';
import { createCrl, parseCrl } from '../../src/pki/crl.ts';
import { issueUnusualClientCertificate } from '../pki/unusual-certificates.ts';
import { runCerts } from '../helpers/certs-script.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const REVOCATION_DEADLINE_MS = 1000;

interface Credentials {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** A GET over a given agent; resolves with the status, body and whether the socket was reused. */
function get(
  server: TestServer,
  agent: Agent,
  path: string,
): Promise<{ status: number; body: string; reusedSocket: boolean; socket: TLSSocket }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path, agent, servername: 'localhost' },
      (res: IncomingMessage) => {
        const socket = res.socket as TLSSocket;
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () =>
          resolvePromise({
            status: res.statusCode ?? 0,
            body,
            reusedSocket: req.reusedSocket,
            socket,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** One raw TLS connection with an HTTP/1.1 request; resolves with its TLS session tickets. */
async function sessionTickets(server: TestServer, credentials: Credentials): Promise<Buffer[]> {
  const socket = connect({
    host: '127.0.0.1',
    port: server.port,
    servername: 'localhost',
    ...credentials,
  });
  const tickets: Buffer[] = [];
  socket.on('session', (session: Buffer) => tickets.push(session));
  await once(socket, 'secureConnect');
  socket.end('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  socket.resume();
  await once(socket, 'close');
  return tickets;
}

/** Resumes a session and makes one request; resolves with the outcome, never rejects. */
async function resume(
  server: TestServer,
  credentials: Credentials,
  session: Buffer,
): Promise<{ reused: boolean; response: string; error: string | undefined }> {
  const socket = connect({
    host: '127.0.0.1',
    port: server.port,
    servername: 'localhost',
    session,
    ...credentials,
  });
  let response = '';
  let error: string | undefined;
  let reused = false;
  socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
  socket.on('error', (failure: NodeJS.ErrnoException) => (error = failure.code ?? failure.message));
  socket.once('secureConnect', () => {
    reused = socket.isSessionReused();
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  });
  await once(socket, 'close');
  return { reused, response, error };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('revocation and reload on a running server', () => {
  let server: TestServer;
  let carol: Credentials;

  before(async () => {
    server = await startServer();
    const mark = server.logs.length;
    const issued = await runCerts(server.certsDir, ['client', 'carol', '--role', 'user'], {
      CERTS_P12_PASSWORD: 'p12-password-for-tests',
    });
    assert.equal(issued.code, 0, issued.stderr);
    // Issuing publishes a new CRL too; the tests start once the server has loaded it.
    await server.waitForLog((entry) => entry.msg === 'TLS credentials reloaded', mark);
    carol = server.credentials('carol');
  });
  after(() => server.dispose());

  it('cuts off a revoked client within a second, keep-alive and resumed sessions included, while others keep working', async () => {
    const carolAgent = new Agent({ ...carol, keepAlive: true });
    try {
      const first = await get(server, carolAgent, '/healthz');
      assert.equal(first.status, 200);
      const kept = first.socket;
      const tickets = await sessionTickets(server, carol);
      assert.ok(tickets.length >= 2, 'the server issues resumable session tickets');
      const resumedBefore = await resume(server, carol, tickets[0]!);
      assert.equal(resumedBefore.reused, true, 'sessions do resume before the revocation');
      const bobBefore = await server.request('bob', 'GET', '/healthz');
      assert.equal(bobBefore.status, 200);

      const mark = server.logs.length;
      const keptClosed = once(kept, 'close');
      const revoked = await runCerts(server.certsDir, ['revoke', 'carol']);
      assert.equal(revoked.code, 0, revoked.stderr);
      const revokedAt = Date.now();
      await withTimeout(keptClosed, REVOCATION_DEADLINE_MS, 'closing the keep-alive connection');
      const reload = await server.waitForLog((entry) => entry.msg === 'TLS credentials reloaded', mark);
      assert.ok(Date.now() - revokedAt < REVOCATION_DEADLINE_MS);
      assert.equal(reload.closedConnections, 1);
      assert.equal(reload.sessionTicketsInvalidated, true);

      await assert.rejects(get(server, carolAgent, '/healthz'), /revoked|socket hang up|ECONNRESET/i);
      const resumedAfter = await resume(server, carol, tickets[1]!);
      assert.equal(resumedAfter.reused, false, 'old session tickets no longer resume');
      assert.doesNotMatch(resumedAfter.response, /200 OK/);
      const refusal = await server.waitForLog(
        (entry) => entry.msg === 'TLS client refused' && entry.reason === 'certificate revoked',
        mark,
      );
      assert.match(JSON.stringify(refusal.subject), /carol/);

      const bobAfter = await server.request('bob', 'GET', '/healthz');
      assert.equal(bobAfter.status, 200);
    } finally {
      carolAgent.destroy();
    }
  });

  it('keeps the CRL in force when crl.pem disappears or is replaced by an older one', async () => {
    const crlPath = join(server.certsDir, 'crl.pem');
    const current = await readFile(crlPath, 'utf8');
    let mark = server.logs.length;
    await rm(crlPath);
    const refused = await server.waitForLog((entry) => /not reloaded/.test(String(entry.msg)), mark);
    assert.match(String(refused.reason), /CRL disappeared/);
    const carolAgent = new Agent({ ...carol });
    try {
      await assert.rejects(get(server, carolAgent, '/healthz'), 'carol is still revoked');
    } finally {
      carolAgent.destroy();
    }
    const ca = {
      certPem: await readFile(join(server.certsDir, 'ca.pem'), 'utf8'),
      keyPem: await readFile(join(server.certsDir, 'ca-key.pem'), 'utf8'),
    };
    mark = server.logs.length;
    const older = await createCrl(ca, {
      entries: [],
      crlNumber: 1,
      nextUpdate: new Date(Date.now() + 86_400_000 * 30),
    });
    await writeFile(crlPath, older);
    const rolledBack = await server.waitForLog((entry) => /not reloaded/.test(String(entry.msg)), mark);
    assert.match(String(rolledBack.reason), /older/);
    mark = server.logs.length;
    await writeFile(crlPath, current);
    await server.waitForLog((entry) => entry.msg === 'TLS credentials reloaded', mark);
  });

  it('rotates the server certificate without dropping a healthy connection', async () => {
    const aliceAgent = new Agent({ ...server.credentials('alice'), keepAlive: true });
    try {
      const first = await get(server, aliceAgent, '/healthz');
      assert.equal(first.status, 200);
      const oldSerial = first.socket.getPeerCertificate().serialNumber;
      const mark = server.logs.length;
      const rotated = await runCerts(server.certsDir, ['server']);
      assert.equal(rotated.code, 0, rotated.stderr);
      await server.waitForLog((entry) => entry.msg === 'TLS credentials reloaded', mark);
      const again = await get(server, aliceAgent, '/healthz');
      assert.equal(again.status, 200);
      assert.equal(again.reusedSocket, true, 'the open connection was kept');
      const newSerial = new X509Certificate(await readFile(join(server.certsDir, 'server.pem')))
        .serialNumber;
      assert.notEqual(newSerial, oldSerial);
      const fresh = new Agent({ ...server.credentials('alice') });
      try {
        const answer = await get(server, fresh, '/healthz');
        assert.equal(answer.socket.getPeerCertificate().serialNumber, newSerial);
      } finally {
        fresh.destroy();
      }
    } finally {
      aliceAgent.destroy();
    }
  });

  it('reloads on SIGHUP, and keeps serving with the previous files when the new ones are broken', async () => {
    const alice = server.credentials('alice');
    const tickets = await sessionTickets(server, alice);
    let mark = server.logs.length;
    server.child.kill('SIGHUP');
    const reloaded = await server.waitForLog(
      (entry) => entry.msg === 'TLS credentials reloaded',
      mark,
    );
    assert.equal(reloaded.trigger, 'SIGHUP');
    assert.equal((await resume(server, alice, tickets[0]!)).reused, true, 'nothing was revoked');

    const goodKey = await readFile(join(server.certsDir, 'server-key.pem'));
    mark = server.logs.length;
    await writeFile(join(server.certsDir, 'server-key.pem'), 'not a key');
    const refused = await server.waitForLog((entry) => /not reloaded/.test(String(entry.msg)), mark);
    assert.match(String(refused.reason), /server-key\.pem/);
    assert.equal((await server.request('alice', 'GET', '/healthz')).status, 200);
    const fresh = new Agent({ ...server.credentials('alice') });
    try {
      assert.equal((await get(server, fresh, '/healthz')).status, 200, 'new handshakes still work');
    } finally {
      fresh.destroy();
    }
    mark = server.logs.length;
    await writeFile(join(server.certsDir, 'server-key.pem'), goodKey, { mode: 0o600 });
    await server.waitForLog((entry) => entry.msg === 'TLS credentials reloaded', mark);
  });

  it('warns before the CRL expires, says so loudly when it has, and recovers with certs crl', async () => {
    const ca = {
      certPem: await readFile(join(server.certsDir, 'ca.pem'), 'utf8'),
      keyPem: await readFile(join(server.certsDir, 'ca-key.pem'), 'utf8'),
    };
    const crlPath = join(server.certsDir, 'crl.pem');
    // The same number as the CRL in force: an older one would be refused, and `certs crl`
    // must still be newer than these.
    const crlNumber = parseCrl(await readFile(crlPath, 'utf8')).crlNumber ?? 1n;
    let mark = server.logs.length;
    const soon = new Date(Date.now() + 2 * 86_400_000);
    await writeFile(crlPath, await createCrl(ca, { entries: [], crlNumber, nextUpdate: soon }));
    const warning = await server.waitForLog((entry) => /CRL expires soon/.test(String(entry.msg)), mark);
    assert.equal(warning.level, 40);

    mark = server.logs.length;
    const past = new Date(Date.now() - 60_000);
    await writeFile(
      crlPath,
      await createCrl(ca, {
        entries: [],
        crlNumber,
        thisUpdate: new Date(Date.now() - 86_400_000),
        nextUpdate: past,
      }),
    );
    const expired = await server.waitForLog((entry) => /CRL has EXPIRED/.test(String(entry.msg)), mark);
    assert.equal(expired.level, 50);
    const fresh = new Agent({ ...server.credentials('alice') });
    try {
      await assert.rejects(get(server, fresh, '/healthz'), 'an expired CRL refuses every client');
    } finally {
      fresh.destroy();
    }

    mark = server.logs.length;
    assert.equal((await runCerts(server.certsDir, ['crl'])).code, 0);
    await server.waitForLog((entry) => entry.msg === 'TLS credentials reloaded', mark);
    const recovered = new Agent({ ...server.credentials('alice') });
    try {
      assert.equal((await get(server, recovered, '/healthz')).status, 200);
    } finally {
      recovered.destroy();
    }
  });
});

describe('identity policy file', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });
  after(() => server.dispose());

  async function applyPolicy(contents: string | undefined, expected: RegExp): Promise<void> {
    const mark = server.logs.length;
    const path = join(server.certsDir, 'policy.json');
    if (contents === undefined) await rm(path);
    else await writeFile(path, contents);
    await server.waitForLog((entry) => expected.test(String(entry.msg)), mark);
  }

  async function roleOf(client: string): Promise<string | number> {
    const response = await server.request(client, 'GET', '/healthz');
    return response.status === 200 ? response.json<{ client: { role: string } }>().client.role : response.status;
  }

  it('overrides a role and disables a client without reissuing certificates', async () => {
    assert.equal(await roleOf('alice'), 'user');
    await applyPolicy(
      JSON.stringify({
        clients: { alice: { role: 'admin' }, bob: { disabled: true, note: 'left the team' } },
      }),
      /identity policy reloaded/,
    );
    assert.equal(await roleOf('alice'), 'admin');
    const bob = await server.request('bob', 'GET', '/v1/jobs');
    assert.equal(bob.status, 403);
    assert.equal(bob.headers['content-type'], 'application/problem+json');
    assert.equal(bob.json().code, 'CLIENT_DISABLED');
    assert.equal(await roleOf('auditor'), 'auditor', 'unlisted clients keep their certificate role');
  });

  it('keeps the previous policy when the new file is invalid', async () => {
    await applyPolicy('{"clients": {"alice": {"role": "root"}}}', /identity policy not reloaded/);
    assert.equal(await roleOf('alice'), 'admin');
    await applyPolicy('{ not json', /identity policy not reloaded/);
    assert.equal(await roleOf('bob'), 403);
  });

  it('admits only listed clients with unlisted: deny, and certificates alone once the file is gone', async () => {
    await applyPolicy(JSON.stringify({ unlisted: 'deny', clients: { alice: {} } }), /identity policy reloaded/);
    assert.equal(await roleOf('alice'), 'user');
    assert.equal(await roleOf('admin'), 403);
    await applyPolicy(undefined, /identity policy reloaded/);
    assert.equal(await roleOf('admin'), 'admin');
    assert.equal(await roleOf('bob'), 'user');
  });

  it('refuses to start with an invalid policy file, saying which', async () => {
    const path = join(server.certsDir, 'policy.json');
    await writeFile(path, '{"clients": {"Bad Name": {}}}');
    try {
      await assert.rejects(
        startServer({ baseDir: server.baseDir }),
        /policy\.json/,
      );
    } finally {
      await rm(path);
    }
  });
});

describe('certificates that must not authenticate', () => {
  let server: TestServer;
  let ca: { certPem: string; keyPem: string };

  before(async () => {
    server = await startServer();
    ca = {
      certPem: await readFile(join(server.certsDir, 'ca.pem'), 'utf8'),
      keyPem: await readFile(join(server.certsDir, 'ca-key.pem'), 'utf8'),
    };
  });
  after(() => server.dispose());

  /** Tries /healthz with a certificate; resolves with the refusal the server logged. */
  async function refusal(credential: { certPem: string; keyPem: string }): Promise<unknown> {
    const mark = server.logs.length;
    const agent = new Agent({
      ca: ca.certPem,
      cert: credential.certPem,
      key: credential.keyPem,
    });
    try {
      await assert.rejects(get(server, agent, '/healthz'));
    } finally {
      agent.destroy();
    }
    const entry = await server.waitForLog((line) => line.msg === 'TLS client refused', mark);
    return entry.reason;
  }

  const DAY = 86_400_000;
  const cases: [string, () => Promise<{ certPem: string; keyPem: string }>, string][] = [
    [
      'an expired certificate',
      () =>
        issueUnusualClientCertificate(ca, {
          name: 'mallory',
          extKeyUsage: 'clientAuth',
          notBefore: new Date(Date.now() - 10 * DAY),
          notAfter: new Date(Date.now() - DAY),
        }),
      'certificate expired',
    ],
    [
      'a certificate for servers only (serverAuth)',
      () => issueUnusualClientCertificate(ca, { name: 'mallory', extKeyUsage: 'serverAuth' }),
      'certificate not for client authentication (extended key usage)',
    ],
    [
      'a certificate without any extended key usage',
      () => issueUnusualClientCertificate(ca, { name: 'mallory', extKeyUsage: 'none' }),
      'certificate not for client authentication (extended key usage)',
    ],
    [
      "a self-signed certificate copying a client's subject",
      () => createCertificateAuthority({ commonName: 'alice', days: 1 }),
      "certificate not issued by this server's CA",
    ],
  ];
  for (const [title, issue, reason] of cases) {
    it(`refuses ${title} and logs why`, async () => {
      assert.equal(await refusal(await issue()), reason);
      assert.equal((await server.request('alice', 'GET', '/healthz')).status, 200);
    });
  }
});
