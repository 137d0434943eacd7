// File modes, atomicity and overwrite protection of credential writes.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pkiLayout } from '../../src/pki/layout.ts';
import { ensurePrivateDirectory, writeCredential } from '../../src/pki/write-credential.ts';
import { fileMode, makeTempDir } from './helpers.ts';

const credential = { certPem: 'CERT\n', keyPem: 'KEY\n' };

describe('writeCredential', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let previousUmask: number;

  beforeEach(async () => {
    dir = await makeTempDir();
    previousUmask = process.umask();
  });

  afterEach(async () => {
    process.umask(previousUmask);
    await dir.remove();
  });

  const paths = () => ({ cert: join(dir.path, 'c.pem'), key: join(dir.path, 'k.pem') });

  it('writes the key 0600 and the certificate 0644 whatever the umask', async () => {
    for (const umask of [0o000, 0o077]) {
      process.umask(umask);
      await writeCredential(paths(), credential, { overwrite: true });
      assert.equal(await fileMode(paths().key), 0o600);
      assert.equal(await fileMode(paths().cert), 0o644);
    }
    assert.equal(await readFile(paths().key, 'utf8'), 'KEY\n');
    assert.equal(await readFile(paths().cert, 'utf8'), 'CERT\n');
  });

  it('leaves no temporary files behind', async () => {
    await writeCredential(paths(), credential);
    assert.deepEqual((await readdir(dir.path)).sort(), ['c.pem', 'k.pem']);
  });

  it('refuses to overwrite unless asked to', async () => {
    await writeCredential(paths(), credential);
    await assert.rejects(writeCredential(paths(), { certPem: 'X', keyPem: 'Y' }), {
      code: 'PKI_EXISTS',
    });
    assert.equal(await readFile(paths().key, 'utf8'), 'KEY\n');
    await writeCredential(paths(), { certPem: 'X', keyPem: 'Y' }, { overwrite: true });
    assert.equal(await readFile(paths().key, 'utf8'), 'Y');
  });

  it('creates private directories with mode 0700', async () => {
    const clientDir = pkiLayout(dir.path).clientDir('alice');
    await ensurePrivateDirectory(clientDir);
    assert.equal(await fileMode(clientDir), 0o700);
  });
});

describe('pkiLayout', () => {
  it('places credentials where the rest of the project expects them', () => {
    const layout = pkiLayout('/certs');
    assert.equal(layout.caCert, '/certs/ca.pem');
    assert.equal(layout.caKey, '/certs/ca-key.pem');
    assert.equal(layout.serverCert, '/certs/server.pem');
    assert.equal(layout.serverKey, '/certs/server-key.pem');
    assert.equal(layout.crl, '/certs/crl.pem');
    assert.equal(layout.inventory, '/certs/inventory.json');
    assert.deepEqual(layout.client('bob'), {
      dir: '/certs/clients/bob',
      cert: '/certs/clients/bob/cert.pem',
      key: '/certs/clients/bob/key.pem',
      p12: '/certs/clients/bob/client.p12',
    });
  });

  it('never turns an invalid client name into a path', () => {
    assert.throws(() => pkiLayout('/certs').clientDir('../x'), { code: 'PKI_INVALID_NAME' });
  });
});
