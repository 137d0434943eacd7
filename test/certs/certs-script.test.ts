// `npm run certs`: onboarding a client end to end (issue it, then use it with curl as printed),
// the inventory `list` shows, PKCS#12 bundles that Node and OpenSSL load, and every bad argument
// refused with one line and nothing written.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCerts, snapshot } from '../helpers/certs-script.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const P12_PASSWORD = 'correct horse battery';

type Health = { client: { name: string; role: string } };

function curl(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolvePromise) => {
    execFile('curl', ['-sS', ...args], (error, stdout) =>
      resolvePromise({ code: error === null ? 0 : Number(error.code), stdout }),
    );
  });
}

describe('certs script', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });
  after(() => server.dispose());

  it('onboards a new client: the printed curl line works as printed', async () => {
    const result = await runCerts(server.certsDir, ['client', 'carol', '--role', 'user'], {
      CERTS_P12_PASSWORD: P12_PASSWORD,
      PORT: String(server.port),
    });
    assert.equal(result.code, 0, result.stderr);
    const line = result.stdout.split('\n').find((text) => text.trim().startsWith('curl '));
    assert.ok(line, result.stdout);
    // The printed paths are relative to where the command ran, the project root.
    const args = line.trim().split(/\s+/).slice(1);
    const answer = await curl(args.map((arg) => arg.replace('localhost', '127.0.0.1')));
    assert.equal(answer.code, 0);
    assert.deepEqual((JSON.parse(answer.stdout) as Health).client, { name: 'carol', role: 'user' });
    const paths = server.certsDir;
    assert.equal((await stat(join(paths, 'clients', 'carol', 'key.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(paths, 'clients', 'carol', 'client.p12'))).mode & 0o777, 0o600);
    assert.doesNotMatch(result.stdout, /password/i, 'a password given by the caller is not echoed');
  });

  it('issues client certificates for 90 days with clientAuth only and a random serial', async () => {
    const pem = await readFile(join(server.certsDir, 'clients', 'carol', 'cert.pem'), 'utf8');
    const cert = new X509Certificate(pem);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 89 && days <= 90, `${days} days`);
    assert.equal(cert.ca, false);
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem }).toString();
    assert.match(text, /TLS Web Client Authentication/);
    assert.doesNotMatch(text, /TLS Web Server Authentication/);
    assert.match(text, /Digital Signature/);
    assert.ok(BigInt(`0x${cert.serialNumber}`) > 2n ** 64n);
  });

  it('generates a PKCS#12 password when none is given and prints it once; Node and OpenSSL load the bundle', async () => {
    const result = await runCerts(server.certsDir, ['client', 'dave', '--role', 'admin']);
    assert.equal(result.code, 0, result.stderr);
    const password = /password \(shown once, not stored\): (\S+)/.exec(result.stdout)?.[1];
    assert.ok(password !== undefined && password.length >= 16, result.stdout);
    const p12Path = join(server.certsDir, 'clients', 'dave', 'client.p12');
    const pfx = await readFile(p12Path);
    const ca = await readFile(join(server.certsDir, 'ca.pem'));
    const body = await new Promise<string>((resolvePromise, reject) => {
      const req = request(
        { host: '127.0.0.1', port: server.port, path: '/healthz', pfx, passphrase: password, ca },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolvePromise(text));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual((JSON.parse(body) as Health).client, { name: 'dave', role: 'admin' });
    const dump = execFileSync('openssl', [
      'pkcs12',
      '-in',
      p12Path,
      '-passin',
      `pass:${password}`,
      '-nodes',
    ]).toString();
    assert.match(dump, /BEGIN PRIVATE KEY/);
    assert.equal(dump.match(/BEGIN CERTIFICATE/g)?.length, 2, 'the client and the CA');
    assert.throws(() =>
      execFileSync(
        'openssl',
        ['pkcs12', '-in', p12Path, '-passin', 'pass:wrong-password', '-nodes'],
        { stdio: 'pipe' },
      ),
    );
  });

  it('lists every certificate with role, serial, expiry and state', async () => {
    await runCerts(server.certsDir, ['client', 'erin', '--role', 'user'], {
      CERTS_P12_PASSWORD: P12_PASSWORD,
    });
    assert.equal((await runCerts(server.certsDir, ['revoke', 'erin'])).code, 0);
    const result = await runCerts(server.certsDir, ['list', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const rows = JSON.parse(result.stdout) as {
      kind: string;
      name: string;
      role?: string;
      serial: string;
      notAfter: string;
      state: string;
    }[];
    const byName = new Map(rows.map((row) => [row.name, row]));
    for (const name of ['admin', 'alice', 'bob', 'auditor', 'carol', 'dave'])
      assert.equal(byName.get(name)?.state, 'active', name);
    assert.equal(byName.get('alice')?.role, 'user');
    assert.equal(byName.get('dave')?.role, 'admin');
    assert.match(byName.get('erin')?.state ?? '', /^revoked /);
    assert.equal(rows.filter((row) => row.kind === 'server').length, 1);
    const alicePem = await readFile(join(server.certsDir, 'clients', 'alice', 'cert.pem'), 'utf8');
    assert.equal(
      byName.get('alice')?.serial,
      new X509Certificate(alicePem).serialNumber.toLowerCase().replace(/^0+/, ''),
    );
    const table = await runCerts(server.certsDir, ['list']);
    assert.match(table.stdout, /^KIND\s+NAME\s+ROLE\s+SERIAL\s+EXPIRES\s+DAYS LEFT\s+STATE/);
    assert.match(table.stdout, /client\s+erin\s+user\s+[0-9a-f]+\s+\S+\s+\d+\s+revoked/);
    assert.match(table.stdout, /\ncrl\s+crl\s+-\s+\d+\s+\S+\s+(29|30)\s+active\n/);
  });

  it('refuses a second certificate for an active client, and renew replaces it', async () => {
    const again = await runCerts(server.certsDir, ['client', 'carol', '--role', 'user']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /carol already has a certificate .* use 'renew carol'/);
    const before = await readFile(join(server.certsDir, 'clients', 'carol', 'cert.pem'), 'utf8');
    const renewed = await runCerts(server.certsDir, ['renew', 'carol', '--days', '7'], {
      CERTS_P12_PASSWORD: P12_PASSWORD,
    });
    assert.equal(renewed.code, 0, renewed.stderr);
    const after = new X509Certificate(
      await readFile(join(server.certsDir, 'clients', 'carol', 'cert.pem'), 'utf8'),
    );
    assert.notEqual(after.serialNumber, new X509Certificate(before).serialNumber);
    const days = (Date.parse(after.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 6 && days <= 7, `${days} days`);
    assert.match(after.subject, /OU=user/);
  });

  it('refuses to replace an existing CA without --force', async () => {
    const before = await snapshot(server.certsDir);
    const result = await runCerts(server.certsDir, ['init']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /a CA already exists .* --force/);
    assert.deepEqual(await snapshot(server.certsDir), before);
  });

  describe('bad arguments: one line on stderr, a non-zero exit, nothing written', () => {
    const cases: [string, string[], RegExp][] = [
      ['no command', [], /Usage: npm run certs/],
      ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
      ['client without a role', ['client', 'zed'], /'client' needs --role/],
      ['an unknown role', ['client', 'zed', '--role', 'root'], /--role must be one of/],
      ['a name with a slash', ['client', '../evil', '--role', 'user'], /invalid client name/],
      ['an upper-case name', ['client', 'Zed', '--role', 'user'], /invalid client name/],
      ['an option-like name', ['client', '-x', '--role', 'user'], /Unknown option '-x'/],
      ['days of zero', ['client', 'zed', '--role', 'user', '--days', '0'], /--days must be/],
      ['days not a number', ['client', 'zed', '--role', 'user', '--days', '1e3'], /--days/],
      ['a short p12 password', ['client', 'zed', '--role', 'user'], /at least 8 characters/],
      ['two names', ['client', 'zed', 'yan', '--role', 'user'], /exactly one client name/],
      ['an option of another command', ['list', '--force'], /'list' does not take --force/],
      ['revoke with no name', ['revoke'], /exactly one client name/],
      ['revoke of an unknown client', ['revoke', 'nobody-here'], /no active certificate/],
      ['a bad revocation reason', ['revoke', 'alice', '--reason', 'bored'], /--reason must be/],
      ['renew of an unknown client', ['renew', 'nobody-here'], /no certificate was ever issued/],
      ['a bad SAN', ['server', '--san', 'not a host!'], /invalid subject alternative name/],
      ['init with a bad SAN', ['init', '--force', '--san', 'bad name'], /invalid subject/],
    ];
    for (const [title, args, message] of cases) {
      it(title, async () => {
        const before = await snapshot(server.certsDir);
        const env: Record<string, string> =
          title === 'a short p12 password' ? { CERTS_P12_PASSWORD: 'short' } : {};
        const result = await runCerts(server.certsDir, args, env);
        assert.notEqual(result.code, 0);
        assert.match(result.stderr + result.stdout, message);
        assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
        assert.deepEqual(await snapshot(server.certsDir), before);
      });
    }
  });

  it('says what to do when there is no PKI yet, and init creates one', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'jobworker-certs-'));
    try {
      const missing = await runCerts(empty, ['client', 'zed', '--role', 'user']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no CA in .*npm run certs -- init/);
      const init = await runCerts(empty, ['init', '--san', 'jobs.example.com', '--san', '10.0.0.5']);
      assert.equal(init.code, 0, init.stderr);
      const serverCert = new X509Certificate(await readFile(join(empty, 'server.pem'), 'utf8'));
      assert.equal(serverCert.subjectAltName, 'DNS:jobs.example.com, IP Address:10.0.0.5');
      assert.equal((await stat(join(empty, 'ca-key.pem'))).mode & 0o777, 0o600);
      assert.equal((await stat(empty)).mode & 0o777, 0o700);
      await writeFile(join(empty, 'pw'), 'a-long-enough-password\n');
      const client = await runCerts(empty, [
        'client',
        'zed',
        '--role',
        'auditor',
        '--p12-password-file',
        join(empty, 'pw'),
      ]);
      assert.equal(client.code, 0, client.stderr);
      execFileSync('openssl', [
        'pkcs12',
        '-in',
        join(empty, 'clients', 'zed', 'client.p12'),
        '-passin',
        'pass:a-long-enough-password',
        '-nokeys',
      ]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
