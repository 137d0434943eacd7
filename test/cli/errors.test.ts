// Every way jobctl can fail to do what it was asked ends in one clear line on stderr (no stack
// trace) and a non-zero status: an unreachable server, each kind of TLS refusal, a missing
// file, and the API's own 403 and 404.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, issueClientCertificate } from '../../src/pki/certificates.ts';
import { issueUnusualClientCertificate } from '../pki/unusual-certificates.ts';
import { runCerts } from '../helpers/certs-script.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { jobctlFor, oneLine, type Jobctl } from './jobctl-process.ts';

describe('jobctl failures', () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let home: string;
  let dispose: () => Promise<void>;

  before(async () => {
    server = await startServer();
    ({ jobctl, home, dispose } = await jobctlFor(server));
  });
  after(async () => {
    await dispose();
    await server.dispose();
  });

  it('an unreachable server: connection refused, status 1 (125 in run)', async () => {
    const port = await closedPort();
    const [ps, run] = await Promise.all([
      jobctl.run('ps', '--server', `https://localhost:${port}`),
      jobctl.run('--server', `localhost:${port}`, 'run', '-f', '--', 'true'),
    ]);
    assert.equal(ps.code, 1);
    assert.equal(
      oneLine(ps),
      `jobctl: cannot connect to localhost:${port}: connection refused; is the server running? (server from --server)`,
    );
    assert.equal(run.code, 125);
    assert.match(oneLine(run), /connection refused/);
  });

  it('a server whose certificate is not from our CA: wrong CA, and which file', async () => {
    const other = await createCertificateAuthority({ commonName: 'another CA', days: 1 });
    const otherCa = join(home, 'other-ca.pem');
    await writeFile(otherCa, other.certPem);
    const result = await jobctl.with({ JOBCTL_CA: otherCa }).run('ps');
    assert.equal(result.code, 1);
    assert.equal(
      oneLine(result),
      `jobctl: the certificate of localhost:${server.port} is not signed by the CA in ${otherCa} (CA from JOBCTL_CA): wrong CA for this server?`,
    );
  });

  it('a client certificate from another CA: refused by the server, and why', async () => {
    const other = await createCertificateAuthority({ commonName: 'impostor CA', days: 1 });
    const impostor = await issueClientCertificate(other, { name: 'alice', role: 'admin', days: 1 });
    const cert = await writeCredential('impostor', impostor.certPem, impostor.keyPem);
    const result = await jobctl.run('ps', '--cert', cert.cert, '--key', cert.key);
    assert.equal(result.code, 1);
    assert.match(
      oneLine(result),
      /^jobctl: the server refused the client certificate .*impostor-cert\.pem \(from --cert\): it is not issued by the server's CA/,
    );
  });

  it('an expired client certificate: refused, with its expiry date', async () => {
    const day = 86_400_000;
    const expired = await issueUnusualClientCertificate(
      {
        certPem: readFileSync(join(server.certsDir, 'ca.pem'), 'utf8'),
        keyPem: readFileSync(join(server.certsDir, 'ca-key.pem'), 'utf8'),
      },
      {
        name: 'alice',
        extKeyUsage: 'clientAuth',
        notBefore: new Date(Date.now() - 10 * day),
        notAfter: new Date(Date.now() - day),
      },
    );
    const cert = await writeCredential('expired', expired.certPem, expired.keyPem);
    const result = await jobctl.with({ JOBCTL_CERT: cert.cert, JOBCTL_KEY: cert.key }).run('ps');
    assert.equal(result.code, 1);
    assert.match(
      oneLine(result),
      /^jobctl: the server refused the client certificate .*expired-cert\.pem \(from JOBCTL_CERT\): it expired on /,
    );
  });

  it('a missing certificate file: which file, and which setting named it', async () => {
    const result = await jobctl.run('ps', '--cert', '/nonexistent/cert.pem');
    assert.equal(result.code, 1);
    assert.equal(
      oneLine(result),
      'jobctl: cannot read the client certificate /nonexistent/cert.pem (from --cert): no such file',
    );
  });

  it('a key that does not belong to the certificate', async () => {
    const bob = join(server.certsDir, 'clients', 'bob', 'key.pem');
    const result = await jobctl.run('ps', '--key', bob);
    assert.equal(result.code, 1);
    assert.match(
      oneLine(result),
      /^jobctl: the client key does not belong to the client certificate/,
    );
  });

  it('403: an auditor may not start or stop jobs', async () => {
    const { id } = await server.startJob('alice', { command: 'sleep', args: ['30'] });
    const auditor = jobctl.with({ JOBCTL_CLIENT: 'auditor' });
    const [run, stop, ps] = await Promise.all([
      auditor.run('run', '-f', '--', 'true'),
      auditor.run('stop', id),
      auditor.run('ps'),
    ]);
    assert.equal(run.code, 125);
    assert.equal(oneLine(run), "jobctl: role 'auditor' may not start jobs (FORBIDDEN)");
    assert.equal(stop.code, 1);
    assert.equal(oneLine(stop), "jobctl: role 'auditor' may not stop jobs (FORBIDDEN)");
    assert.equal(ps.code, 0, 'but it may look');
    assert.match(ps.stdout, new RegExp(id));
    await server.request('alice', 'POST', `/v1/jobs/${id}/stop`);
  });

  it("404: an unknown id, and another client's job, alike", async () => {
    const { id } = await server.startJob('alice', { command: 'true' });
    const unknown = '00000000-0000-4000-8000-000000000000';
    const [missing, othersJob] = await Promise.all([
      jobctl.run('inspect', unknown),
      jobctl.with({ JOBCTL_CLIENT: 'bob' }).run('logs', id),
    ]);
    assert.equal(missing.code, 1);
    assert.equal(oneLine(missing), `jobctl: no job with id '${unknown}' (JOB_NOT_FOUND)`);
    assert.equal(othersJob.code, 1);
    assert.equal(oneLine(othersJob), `jobctl: no job with id '${id}' (JOB_NOT_FOUND)`);
  });

  it('a revoked client certificate: refused, and named revoked', async () => {
    const reloaded = server.waitForLog(
      (entry) => entry.msg === 'TLS credentials reloaded' && Number(entry.revoked) > 0,
      server.logs.length,
    );
    const revoke = await runCerts(server.certsDir, ['revoke', 'bob']);
    assert.equal(revoke.code, 0, revoke.stderr);
    await reloaded;
    const result = await jobctl.with({ JOBCTL_CLIENT: 'bob' }).run('ps');
    assert.equal(result.code, 1);
    assert.match(
      oneLine(result),
      /^jobctl: the server refused the client certificate .*bob\/cert\.pem \(from JOBCTL_CLIENT=bob\): it has been revoked \(it is listed in .*crl\.pem\)$/,
    );
  });

  async function writeCredential(
    name: string,
    certPem: string,
    keyPem: string,
  ): Promise<{ cert: string; key: string }> {
    const cert = join(home, `${name}-cert.pem`);
    const key = join(home, `${name}-key.pem`);
    await writeFile(cert, certPem);
    await writeFile(key, keyPem, { mode: 0o600 });
    return { cert, key };
  }
});

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const listener = createServer().listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const address = listener.address();
  listener.close();
  await once(listener, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
