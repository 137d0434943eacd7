// Files into and out of a volume as tar streams: a tree uploaded comes back identical; a write
// past the volume's size is refused (VOLUME_FULL) while the data disk loses nothing beyond the
// volume's reservation; hostile archives (`..`, absolute names, a symlink out and a file
// through it, hard links to host files, a device node, a set-uid file, a sparse file larger
// than the volume) change nothing outside the volume; a client that goes away mid-upload leaves
// the volume usable and no sandbox running; a download tar cannot finish is cut short, not
// answered as whole; a volume is not removed under an open archive; a sandbox that cannot be set
// up is a 500 that names no host path.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { allocatedBytes } from '../helpers/allocated-bytes.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { tarOf } from '../helpers/tar.ts';

const MiB = 1024 ** 2;
const TAR = { 'content-type': 'application/x-tar' };

describe('volume archives', () => {
  let server: TestServer;
  /** Host files a hostile archive aims at: none may change. */
  let outside: string;
  before(async () => {
    // Two open streams a client: archives count against them as followers do.
    server = await startServer({ env: { CLIENT_FOLLOWERS: '2' } });
    outside = mkdtempSync(join(server.baseDir, 'outside-'));
    writeFileSync(join(outside, 'canary'), 'untouched\n');
    chmodSync(join(outside, 'canary'), 0o644);
  });
  after(() => server.dispose());

  const upload = (name: string, body: Buffer, path = '/') =>
    server.request('alice', 'PUT', `/v1/volumes/${name}/archive?path=${encodeURIComponent(path)}`, {
      body,
      headers: TAR,
    });

  async function download(name: string, path = '/'): Promise<Buffer> {
    const answer = await server.request(
      'alice',
      'GET',
      `/v1/volumes/${name}/archive?path=${encodeURIComponent(path)}`,
    );
    assert.equal(answer.status, 200, answer.text());
    assert.equal(answer.headers['content-type'], 'application/x-tar');
    return answer.body;
  }

  async function makeVolume(name: string, size = '32M'): Promise<void> {
    const made = await server.request('alice', 'POST', '/v1/volumes', { json: { name, size } });
    assert.equal(made.status, 201, made.text());
  }

  it('gives back an uploaded tree identical, a directory or a single file', async () => {
    await makeVolume('tree');
    const source = mkdtempSync(join(server.baseDir, 'source-'));
    mkdirSync(join(source, 'src/deep/er'), { recursive: true });
    writeFileSync(join(source, 'src/main.c'), 'int main(void) { return 0; }\n');
    writeFileSync(
      join(source, 'src/deep/er/data.bin'),
      Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251)),
    );
    writeFileSync(join(source, 'build.sh'), '#!/bin/sh\nmake\n');
    chmodSync(join(source, 'build.sh'), 0o755);
    symlinkSync('src/main.c', join(source, 'main-link'));
    const archive = execFileSync('tar', ['-c', '-C', source, '.']);
    const sent = await upload('tree', archive, '/project');
    assert.equal(sent.status, 204, sent.text());

    const back = mkdtempSync(join(server.baseDir, 'back-'));
    execFileSync('tar', ['-x', '-C', back], { input: await download('tree', '/project') });
    assert.deepEqual(await treeOf(back), await treeOf(source));
    // A file is a tar of that one file, named as it is.
    const single = execFileSync('tar', ['-t'], {
      input: await download('tree', '/project/build.sh'),
    });
    assert.equal(single.toString(), 'build.sh\n');
    const missing = await server.request('alice', 'GET', '/v1/volumes/tree/archive?path=/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json().code, 'VOLUME_PATH_NOT_FOUND');
    // What its files take shows in the volume's record.
    const volume = (await server.request('alice', 'GET', '/v1/volumes/tree')).json<{
      usedBytes: number;
    }>();
    assert.ok(volume.usedBytes > 70_000, `usedBytes ${volume.usedBytes}`);
  });

  it('refuses a write past the size with VOLUME_FULL, the data disk unchanged beyond the reservation', async () => {
    const before = allocatedBytes(server.dataDir);
    await makeVolume('small');
    const reserved = allocatedBytes(server.dataDir);
    assert.ok(reserved - before >= 32 * MiB, 'the volume reserved its size');
    const big = tarOf([{ name: 'big', content: Buffer.alloc(34 * MiB, 7) }]);
    const refused = await upload('small', big);
    assert.equal(refused.status, 507, refused.text());
    assert.equal(refused.json().code, 'VOLUME_FULL');
    const spent = allocatedBytes(server.dataDir) - reserved;
    assert.ok(spent < 2 * MiB, `the data dir took ${spent / MiB} MiB more than the reservation`);
    // The volume is still usable: the file replaced by a small one, read back.
    assert.equal(
      (await upload('small', tarOf([{ name: 'big', content: 'small now\n' }]))).status,
      204,
    );
    const listing = execFileSync('tar', ['-xO', './big'], { input: await download('small') });
    assert.equal(listing.toString(), 'small now\n');
  });

  it('changes nothing outside the volume whatever the archive says', async () => {
    await makeVolume('hostile');
    const passwd = {
      text: readFileSync('/etc/passwd', 'utf8'),
      mode: statSync('/etc/passwd').mode,
    };
    const hostile = [
      tarOf([{ name: `../../../../../../../..${outside}/canary`, content: 'dotdot\n' }]),
      tarOf([{ name: `${outside}/canary`, content: 'absolute\n' }]),
      tarOf([{ name: `${outside}/new-file`, content: 'absolute\n' }]),
      tarOf([
        { name: 'out', type: 'symlink', target: outside },
        { name: 'out/through-symlink', content: 'through\n' },
        { name: 'out/canary', content: 'through\n' },
      ]),
      tarOf([{ name: 'passwd', type: 'hardlink', target: '/etc/passwd' }]),
      tarOf([{ name: 'passwd2', type: 'hardlink', target: '../../../../../etc/passwd' }]),
      tarOf([{ name: 'canary-link', type: 'hardlink', target: `${outside}/canary` }]),
      tarOf([{ name: 'null', type: 'char', device: { major: 1, minor: 3 }, mode: 0o666 }]),
      tarOf([{ name: 'suid', content: '#!/bin/sh\nid\n', mode: 0o6755 }]),
      sparseArchive(server.baseDir, 64 * MiB),
    ];
    const before = allocatedBytes(server.dataDir);
    for (const archive of hostile) {
      const answer = await upload('hostile', archive);
      // Refused (422, 507) or unpacked inside the volume (204): never a 500.
      assert.ok([204, 422, 507].includes(answer.status), `${answer.status} ${answer.text()}`);
    }
    assert.equal(readFileSync(join(outside, 'canary'), 'utf8'), 'untouched\n');
    assert.equal(statSync(join(outside, 'canary')).mode & 0o7777, 0o644);
    assert.deepEqual(readdirSync(outside), ['canary']);
    assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd.text);
    assert.equal(statSync('/etc/passwd').mode, passwd.mode);
    const spent = allocatedBytes(server.dataDir) - before;
    assert.ok(spent < 2 * MiB, `the data dir took ${spent / MiB} MiB past its volumes' images`);

    const listing = execFileSync('tar', ['-tv'], { input: await download('hostile') }).toString();
    assert.doesNotMatch(listing, /^c/m, `no device node: ${listing}`);
    const suid = /^(\S+) .* \.\/suid$/m.exec(listing)?.[1];
    assert.equal(suid, '-rwxr-xr-x', `set-id bits dropped: ${listing}`);
    // Still usable.
    assert.equal(
      (await upload('hostile', tarOf([{ name: 'after', content: 'ok\n' }]))).status,
      204,
    );
  });

  it("counts open archives against the client's streams (--client-followers): 429 past them", async () => {
    await makeVolume('streams');
    const big = tarOf([{ name: 'big', content: Buffer.alloc(8 * MiB, 1) }]);
    assert.equal((await upload('streams', big)).status, 204);
    // Two downloads whose client does not read: the sandboxes wait on the socket.
    const held = await Promise.all(
      [1, 2].map(() => server.open('alice', 'GET', '/v1/volumes/streams/archive')),
    );
    for (const response of held) assert.equal(response.statusCode, 200);
    const third = await server.request('alice', 'GET', '/v1/volumes/streams/archive');
    assert.equal(third.status, 429);
    assert.equal(third.json().code, 'TOO_MANY_FOLLOWERS');
    for (const response of held) response.destroy();
    await sandboxes(server.dataDir, (count) => count === 0);
    assert.ok((await download('streams')).length > 8 * MiB);
  });

  it('cuts a download short when tar cannot read a file, rather than answer a partial archive as whole', async () => {
    await makeVolume('unreadable');
    const files = tarOf([
      { name: 'readable', content: Buffer.alloc(MiB, 1) },
      // The client's uid owns it but may not read it: its tar fails part way.
      { name: 'secret', content: 'hidden\n', mode: 0o000 },
    ]);
    assert.equal((await upload('unreadable', files)).status, 204);
    const since = server.logs.length;
    const response = await server.open('alice', 'GET', '/v1/volumes/unreadable/archive');
    assert.equal(response.statusCode, 200);
    await assert.rejects(async () => {
      for await (const chunk of response) assert.ok(Buffer.isBuffer(chunk));
    }, /aborted|premature close|ECONNRESET/i);
    const logged = await server.waitForLog(
      (line) => line.msg === 'volume archive failed after it began',
      since,
    );
    assert.match(JSON.stringify(logged), /Permission denied/);
  });

  it('refuses to remove a volume while an archive of it is open (409), and removes it after', async () => {
    await makeVolume('reading');
    const big = tarOf([{ name: 'big', content: Buffer.alloc(8 * MiB, 1) }]);
    assert.equal((await upload('reading', big)).status, 204);
    // A download whose client does not read: its tar waits on the socket.
    const held = await server.open('alice', 'GET', '/v1/volumes/reading/archive');
    assert.equal(held.statusCode, 200);
    const refused = await server.request('alice', 'DELETE', '/v1/volumes/reading');
    assert.equal(refused.status, 409, refused.text());
    assert.equal(refused.json().code, 'VOLUME_IN_USE');
    held.destroy();
    await sandboxes(server.dataDir, (count) => count === 0);
    const removed = await server.request('alice', 'DELETE', '/v1/volumes/reading');
    assert.equal(removed.status, 204, removed.text());
  });

  it("answers a sandbox that cannot be set up with a 500 that names none of the host's paths", async () => {
    await makeVolume('nowhere');
    const root = join(server.dataDir, 'volumes', 'sandbox-root');
    const mode = statSync(root).mode & 0o7777;
    rmdirSync(root);
    try {
      const answer = await upload('nowhere', tarOf([{ name: 'a', content: 'a\n' }]));
      assert.equal(answer.status, 500, answer.text());
      assert.equal(answer.json().code, 'INTERNAL');
      assert.equal(answer.json().detail, 'the server could not complete the request');
      assert.doesNotMatch(answer.text(), /sandbox-root|mount/);
    } finally {
      mkdirSync(root, { mode });
      chmodSync(root, mode);
    }
    assert.equal((await upload('nowhere', tarOf([{ name: 'a', content: 'a\n' }]))).status, 204);
  });

  it('leaves the volume usable and no sandbox running when the client goes away mid-upload', async () => {
    await makeVolume('gone');
    const request = httpsRequest({
      host: '127.0.0.1',
      port: server.port,
      method: 'PUT',
      path: '/v1/volumes/gone/archive',
      headers: { ...TAR, 'transfer-encoding': 'chunked' },
      agent: server.agent('alice'),
    });
    request.on('error', () => undefined);
    // A header of a 16 MiB file, then a part of its content, then the client is gone.
    request.write(
      tarOf([{ name: 'partial', content: Buffer.alloc(16 * MiB) }]).subarray(0, 4 * MiB),
    );
    await sandboxes(server.dataDir, (count) => count > 0);
    request.destroy();
    await sandboxes(server.dataDir, (count) => count === 0);
    assert.equal((await upload('gone', tarOf([{ name: 'next', content: 'fine\n' }]))).status, 204);
    const names = execFileSync('tar', ['-t'], { input: await download('gone') }).toString();
    assert.match(names, /\.\/next/);
  });
});

/** A GNU tar of a sparse file of `bytes`: a few blocks in the archive, far more unpacked. */
function sparseArchive(baseDir: string, bytes: number): Buffer {
  const dir = mkdtempSync(join(baseDir, 'sparse-'));
  writeFileSync(join(dir, 'sparse'), '');
  execFileSync('truncate', ['-s', String(bytes), join(dir, 'sparse')]);
  return execFileSync('tar', ['--sparse', '-c', '-C', dir, 'sparse']);
}

/** Every file's path, type, mode bits and content (or link target), sorted. */
async function treeOf(root: string, prefix = ''): Promise<string[]> {
  const entries: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    const full = join(root, path);
    if (entry.isSymbolicLink()) entries.push(`${path} -> ${await readlink(full)}`);
    else if (entry.isDirectory()) {
      entries.push(`${path}/ ${(statSync(full).mode & 0o7777).toString(8)}`);
      entries.push(...(await treeOf(root, path)));
    } else {
      const content = (await readFile(full)).toString('base64');
      entries.push(`${path} ${(statSync(full).mode & 0o7777).toString(8)} ${content}`);
    }
  }
  return entries.sort();
}

/**
 * Waits until the number of archive sandboxes working in this server's volumes passes `done`:
 * the sandbox's unshare names the volume's mount point on its command line. Polled, as no event
 * says when another process's child has gone; bounded at 10 s.
 */
async function sandboxes(dataDir: string, done: (count: number) => boolean): Promise<void> {
  const marker = join(dataDir, 'volumes', 'sandbox-root');
  const deadline = Date.now() + 10_000;
  for (;;) {
    let count = 0;
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) count += 1;
      } catch {
        // Gone meanwhile.
      }
    }
    if (done(count)) return;
    assert.ok(Date.now() < deadline, `archive sandboxes: ${count}`);
    await delay(50);
  }
}
