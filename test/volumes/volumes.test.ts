// A client's volumes over the API: made, listed a page at a time, read and removed; another
// client gets the 404 of a name never made on every route (the archive's both ways too); the
// budgets of size and count refuse with problems that name them; the data disk's free space
// goes down by the volume's size when it is made (reserved whole) and comes back on removal.
import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { allocatedBytes } from '../helpers/allocated-bytes.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const MiB = 1024 ** 2;

interface VolumeAnswer {
  name: string;
  client: string;
  sizeBytes: number;
  usedBytes: number;
  createdAt: string;
}

describe('volumes', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      env: { CLIENT_VOLUME_BYTES: '256MiB', CLIENT_VOLUMES: '4' },
    });
  });
  after(() => server.dispose());

  const create = (client: string, name: string, size: string | number) =>
    server.request(client, 'POST', '/v1/volumes', { json: { name, size } });

  it('makes a volume (201), reads it, lists it and removes it (204)', async () => {
    const made = await create('alice', 'src', '32M');
    assert.equal(made.status, 201, made.text());
    assert.equal(made.headers.location, '/v1/volumes/src');
    const volume = made.json<VolumeAnswer>();
    assert.equal(volume.name, 'src');
    assert.equal(volume.client, 'alice');
    assert.equal(volume.sizeBytes, 32 * MiB);
    assert.ok(volume.usedBytes < 8 * MiB, `a fresh volume is nearly empty: ${volume.usedBytes}`);
    assert.ok(!Number.isNaN(Date.parse(volume.createdAt)));

    const read = await server.request('alice', 'GET', '/v1/volumes/src');
    assert.equal(read.status, 200);
    assert.deepEqual(read.json<VolumeAnswer>().name, 'src');

    const listed = await server.request('alice', 'GET', '/v1/volumes');
    assert.deepEqual(
      listed.json<{ volumes: VolumeAnswer[] }>().volumes.map((v) => v.name),
      ['src'],
    );
    // Admins list every client's; bob lists none of alice's.
    const adminList = await server.request('admin', 'GET', '/v1/volumes');
    assert.ok(
      adminList.json<{ volumes: VolumeAnswer[] }>().volumes.some((v) => v.client === 'alice'),
    );
    const bobList = await server.request('bob', 'GET', '/v1/volumes');
    assert.deepEqual(bobList.json<{ volumes: VolumeAnswer[] }>().volumes, []);

    assert.equal((await create('alice', 'src', '32M')).json().code, 'VOLUME_EXISTS');
    const removed = await server.request('alice', 'DELETE', '/v1/volumes/src');
    assert.equal(removed.status, 204);
    assert.equal((await server.request('alice', 'GET', '/v1/volumes/src')).status, 404);
    assert.equal(await mountsUnder(server.dataDir), 0, 'its mount and loop device are gone');
  });

  it('refuses sizes below 32M and bad names, and takes sizes as the quantities are written', async () => {
    const small = await create('alice', 'tiny', '31M');
    assert.equal(small.status, 400);
    assert.equal(small.json().code, 'INVALID_REQUEST');
    const badName = await create('alice', '../etc', '32M');
    assert.equal(badName.status, 400);
    const gi = await create('alice', 'exact', 32 * MiB);
    assert.equal(gi.status, 201, gi.text());
    await server.request('alice', 'DELETE', '/v1/volumes/exact');
  });

  it('pages a listing with Link, every volume once', async () => {
    for (const name of ['p1', 'p2', 'p3'])
      assert.equal((await create('bob', name, '32M')).status, 201);
    const names: string[] = [];
    let path: string | undefined = '/v1/volumes?limit=2';
    let pages = 0;
    while (path !== undefined) {
      const page = await server.request('bob', 'GET', path);
      assert.equal(page.status, 200, page.text());
      names.push(...page.json<{ volumes: VolumeAnswer[] }>().volumes.map((v) => v.name));
      const link = page.headers.link === undefined ? undefined : String(page.headers.link);
      path = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
      pages += 1;
    }
    assert.deepEqual(names, ['p3', 'p2', 'p1']);
    assert.equal(pages, 2);
    // A cursor of bob's listing is no cursor of alice's.
    const first = await server.request('bob', 'GET', '/v1/volumes?limit=2');
    const link = String(first.headers.link);
    const stolen = await server.request('alice', 'GET', /^<([^>]+)>/.exec(link)?.[1] ?? '');
    assert.equal(stolen.status, 400);
    for (const name of ['p1', 'p2', 'p3'])
      await server.request('bob', 'DELETE', `/v1/volumes/${name}`);
  });

  it("gives bob the 404 of a missing name for alice's volume, on every route", async () => {
    assert.equal((await create('alice', 'mine', '32M')).status, 201);
    const tar = await readFile(new URL(import.meta.url));
    const routes: [string, string][] = [
      ['GET', '/v1/volumes/mine'],
      ['DELETE', '/v1/volumes/mine'],
      ['GET', '/v1/volumes/mine/archive'],
      ['PUT', '/v1/volumes/mine/archive'],
    ];
    for (const [method, path] of routes) {
      const options =
        method === 'PUT' ? { body: tar, headers: { 'content-type': 'application/x-tar' } } : {};
      const theirs = await server.request('bob', method, path, options);
      const missing = await server.request('bob', method, path.replace('mine', 'never'), options);
      assert.equal(theirs.status, 404, `${method} ${path}`);
      assert.equal(theirs.json().code, 'VOLUME_NOT_FOUND');
      assert.equal(theirs.json().detail, String(missing.json().detail).replace('never', 'mine'));
    }
    assert.equal((await server.request('alice', 'GET', '/v1/volumes/mine')).status, 200);
    assert.equal((await server.request('alice', 'DELETE', '/v1/volumes/mine')).status, 204);
  });

  it('refuses past the size budget and the count budget with problems naming them', async () => {
    const big = await create('alice', 'big', '257M');
    assert.equal(big.status, 507);
    assert.equal(big.json().code, 'VOLUME_BUDGET_EXCEEDED');
    assert.match(String(big.json().detail), /budget \(256/);
    for (const name of ['c1', 'c2', 'c3', 'c4'])
      assert.equal((await create('alice', name, '32M')).status, 201);
    const fifth = await create('alice', 'c5', '32M');
    assert.equal(fifth.status, 507);
    assert.equal(fifth.json().code, 'VOLUME_COUNT_EXCEEDED');
    // Admins have no budget of volumes (the data disk's floor holds them).
    assert.equal((await create('admin', 'big', '300M')).status, 201);
    for (const name of ['c1', 'c2', 'c3', 'c4'])
      await server.request('alice', 'DELETE', `/v1/volumes/${name}`);
    await server.request('admin', 'DELETE', '/v1/volumes/big');
  });

  it("reserves a volume's size on the data disk when it is made, and gives it back", async () => {
    const before = allocatedBytes(server.dataDir);
    assert.equal((await create('admin', 'reserved', '200M')).status, 201);
    const taken = allocatedBytes(server.dataDir) - before;
    assert.ok(taken >= 200 * MiB && taken < 202 * MiB, `took ${taken / MiB} MiB`);
    await server.request('admin', 'DELETE', '/v1/volumes/reserved');
    const back = allocatedBytes(server.dataDir) - before;
    assert.ok(back < 2 * MiB, `gave back all but ${back / MiB} MiB`);
  });

  it('records create, upload, download and delete in the audit trail, and counts volumes in /metrics', async () => {
    assert.equal((await create('bob', 'audited', '32M')).status, 201);
    const metrics = (await server.request('admin', 'GET', '/metrics')).text();
    assert.match(metrics, /^jobworker_volumes [1-9]/m);
    assert.match(metrics, /^jobworker_volume_size_bytes [1-9]/m);
    assert.match(metrics, /^jobworker_volume_used_bytes [1-9]/m);
    const tar = Buffer.alloc(1024);
    const sent = await server.request('bob', 'PUT', '/v1/volumes/audited/archive?path=/x', {
      body: tar,
      headers: { 'content-type': 'application/x-tar' },
    });
    assert.equal(sent.status, 204, sent.text());
    assert.equal((await server.request('bob', 'GET', '/v1/volumes/audited/archive')).status, 200);
    assert.equal((await server.request('bob', 'DELETE', '/v1/volumes/audited')).status, 204);
    const trail = await server.request('auditor', 'GET', '/v1/audit?client=bob&limit=1000');
    const records = trail
      .json<{ records: { action: string; outcome: string; details: Record<string, unknown> }[] }>()
      .records.filter((record) => record.action.startsWith('volume.'));
    const seen = records.map((record) => `${record.action} ${record.outcome}`);
    for (const action of ['create', 'upload', 'download', 'delete']) {
      assert.ok(seen.includes(`volume.${action} allowed`), `${action}: ${seen.join(', ')}`);
    }
    const upload = records.find((record) => record.action === 'volume.upload');
    assert.deepEqual(upload?.details, { name: 'audited', path: '/x', bytes: 1024 });
  });

  it('refuses a volume the data disk cannot hold above its floor: 507', async () => {
    const free = freeBytes(server.dataDir);
    const tooBig = await create('admin', 'huge', `${Math.ceil(free / MiB) + 1024}M`);
    assert.equal(tooBig.status, 507);
    assert.equal(tooBig.json().code, 'INSUFFICIENT_STORAGE');
  });
});

function freeBytes(path: string): number {
  const disk = statfsSync(path);
  return disk.bavail * disk.bsize;
}

async function mountsUnder(dataDir: string): Promise<number> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').filter((line) => line.includes(`${dataDir}/volumes/mounts/`)).length;
}
