// A volume outlives what uses it: the server's restart, its SIGKILL, a reboot (its mounts
// gone), and a job killed in the middle of writing to it. A volume a crash left half-made is
// undone at the next start. A running job that names a volume keeps it from being removed
// (409), and a job writing past its size gets ENOSPC inside the volume.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { tarOf } from '../helpers/tar.ts';
import { unmountVolumes } from '../helpers/volume-mounts.ts';

const TAR = { 'content-type': 'application/x-tar' };

describe('a volume over its lifetime', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    const made = await server.request('alice', 'POST', '/v1/volumes', {
      json: { name: 'keep', size: '32M' },
    });
    assert.equal(made.status, 201, made.text());
    const sent = await server.request('alice', 'PUT', '/v1/volumes/keep/archive', {
      body: tarOf([{ name: 'kept.txt', content: 'still here\n' }]),
      headers: TAR,
    });
    assert.equal(sent.status, 204, sent.text());
  });
  after(() => server.dispose());

  async function keptText(): Promise<string> {
    const answer = await server.request('alice', 'GET', '/v1/volumes/keep/archive?path=/kept.txt');
    assert.equal(answer.status, 200, answer.text());
    return execFileSync('tar', ['-xO'], { input: answer.body }).toString();
  }

  async function restart(stop: () => Promise<void>): Promise<void> {
    await stop();
    server = await startServer({ baseDir: server.baseDir });
  }

  it('keeps its content across a restart, a SIGKILL and a reboot', async () => {
    await restart(() => server.stop());
    assert.equal(await keptText(), 'still here\n');
    await restart(() => server.stop('SIGKILL'));
    assert.equal(await keptText(), 'still here\n');
    // A reboot: the server stopped and every mount gone; the start mounts it again.
    await restart(async () => {
      await server.stop();
      await unmountVolumes(server.dataDir);
    });
    assert.equal(await keptText(), 'still here\n');
  });

  it('keeps serving the others when one cannot be mounted at start, and removes that one', async () => {
    const made = await server.request('alice', 'POST', '/v1/volumes', {
      json: { name: 'broken', size: '32M' },
    });
    assert.equal(made.status, 201, made.text());
    const broken = await server.request('alice', 'GET', '/v1/volumes?limit=1');
    assert.equal(broken.json<{ volumes: { name: string }[] }>().volumes[0]?.name, 'broken');
    await server.stop();
    await unmountVolumes(server.dataDir);
    // Its superblock gone: mount refuses the image. The image is found by the volume's id (the
    // newest file would do, but unmounting another volume writes to its image).
    const db = new DatabaseSync(join(server.dataDir, 'jobworker.db'));
    const { id } = db.prepare(`SELECT id FROM volumes WHERE name = 'broken'`).get() as {
      id: number;
    };
    db.close();
    const image = join(server.dataDir, 'volumes', 'images', `${id}.img`);
    assert.equal(existsSync(image), true);
    const fd = openSync(image, 'r+');
    writeSync(fd, Buffer.alloc(64 * 1024), 0, 64 * 1024, 0);
    closeSync(fd);
    server = await startServer({ baseDir: server.baseDir });
    assert.equal(await keptText(), 'still here\n');
    const unreadable = await server.request('alice', 'GET', '/v1/volumes/broken/archive');
    assert.equal(unreadable.status, 500);
    assert.equal((await server.request('alice', 'DELETE', '/v1/volumes/broken')).status, 204);
    assert.equal(existsSync(image), false);
  });

  it('undoes at start a volume a crash left half-made', async () => {
    await server.stop('SIGKILL');
    const db = new DatabaseSync(join(server.dataDir, 'jobworker.db'));
    const row = db
      .prepare(
        `INSERT INTO volumes (client, name, size_bytes, state, created_at)
         VALUES ('alice', 'half', 33554432, 'creating', ?) RETURNING id`,
      )
      .get(new Date().toISOString()) as { id: number };
    db.close();
    const image = join(server.dataDir, 'volumes', 'images', `${row.id}.img`);
    writeFileSync(image, 'a crash left this');
    server = await startServer({ baseDir: server.baseDir });
    assert.equal(existsSync(image), false, 'its image is gone');
    assert.equal((await server.request('alice', 'GET', '/v1/volumes/half')).status, 404);
    const made = await server.request('alice', 'POST', '/v1/volumes', {
      json: { name: 'half', size: '32M' },
    });
    assert.equal(made.status, 201, 'the name is free again');
    await server.request('alice', 'DELETE', '/v1/volumes/half');
  });

  it('refuses to remove a volume a running job names (409), and a job killed mid-write leaves it usable', async () => {
    const writer = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'while :; do echo line >> /data/log; done'],
      volumes: [{ name: 'keep', path: '/data' }],
    });
    assert.equal(writer.status, 'running');
    const refused = await server.request('alice', 'DELETE', '/v1/volumes/keep');
    assert.equal(refused.status, 409);
    assert.equal(refused.json().code, 'VOLUME_IN_USE');
    const stopped = await server.request('alice', 'POST', `/v1/jobs/${writer.id}/stop`);
    assert.equal(stopped.status, 202);
    await server.waitForEnd('alice', writer.id);
    assert.equal(await keptText(), 'still here\n');
    const sent = await server.request('alice', 'PUT', '/v1/volumes/keep/archive', {
      body: tarOf([{ name: 'after.txt', content: 'written after\n' }]),
      headers: TAR,
    });
    assert.equal(sent.status, 204, sent.text());
  });

  it('gives a job that writes past the size ENOSPC inside the volume', async () => {
    const filler = await server.startJob('alice', {
      command: 'sh',
      args: [
        '-c',
        'dd if=/dev/zero of=/data/fill bs=1M count=64 2>&1; echo "exit $?"; rm /data/fill',
      ],
      volumes: [{ name: 'keep', path: '/data' }],
    });
    const ended = await server.waitForEnd('alice', filler.id);
    assert.equal(ended.exitCode, 0);
    const output = (await server.request('alice', 'GET', `/v1/jobs/${filler.id}/output`)).text();
    assert.match(output, /No space left on device/);
    assert.match(output, /exit 1/);
    assert.equal(await keptText(), 'still here\n');
  });
});
