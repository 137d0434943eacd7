// The images jobs may name (issue 36): GET /v1/images lists what an operator imported with
// `npm run images`, for every role, and `jobctl images` shows it as a table on a terminal,
// tab-separated lines in a pipe, names with -o name and the server's answer with -o json.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, startServer, type TestServer } from '../helpers/server.ts';
import { JOBCTL, jobctlFor, oneLine, type Jobctl } from './jobctl-process.ts';
import { TmuxPane } from './tmux.ts';

const run = promisify(execFile);

interface ImageList {
  images: { name: string; importedAt: string }[];
}

describe('images: GET /v1/images and jobctl images', () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let home: string;
  let dispose: () => Promise<void>;
  const panes: TmuxPane[] = [];

  before(async () => {
    server = await startServer();
    ({ jobctl, home, dispose } = await jobctlFor(server));
  });
  after(async () => {
    for (const pane of panes) await pane.close();
    await dispose();
    await server.dispose();
  });

  /** Imports an image as an operator does, from a tarball of a root holding a static busybox. */
  async function importImage(name: string): Promise<void> {
    const work = await mkdtemp(join(tmpdir(), 'jobworker-image-'));
    try {
      const rootfs = join(work, 'rootfs');
      await mkdir(join(rootfs, 'bin'), { recursive: true });
      await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
      await symlink('busybox', join(rootfs, 'bin', 'sh'));
      await run('tar', ['-C', rootfs, '-cf', join(work, `${name}.tar`), '.']);
      await run(process.execPath, [
        join(ROOT, 'scripts', 'images.ts'),
        'import',
        name,
        join(work, `${name}.tar`),
        '--data-dir',
        server.dataDir,
      ]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  it('answers an empty list before any image is imported, uncached', async () => {
    const response = await server.request('alice', 'GET', '/v1/images');
    assert.equal(response.status, 200, response.text());
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.deepEqual(response.json(), { images: [] });
    const piped = await jobctl.run('images');
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, '');
  });

  it('lists an imported image for alice, the auditor and the admin, and jobctl shows it', async () => {
    const before = Date.now();
    await importImage('busybox');
    await importImage('alpine-3.20');
    const response = await server.request('alice', 'GET', '/v1/images');
    assert.equal(response.status, 200, response.text());
    const list = response.json<ImageList>();
    assert.deepEqual(
      list.images.map(({ name }) => name),
      ['alpine-3.20', 'busybox'],
    );
    for (const { importedAt } of list.images) {
      const when = Date.parse(importedAt);
      assert.ok(when >= before - 1000 && when <= Date.now() + 1000, importedAt);
    }
    for (const client of ['auditor', 'admin', 'bob']) {
      const other = await server.request(client, 'GET', '/v1/images');
      assert.deepEqual(other.json(), list, client);
    }

    const piped = await jobctl.run('images');
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(
      piped.stdout,
      list.images.map(({ name, importedAt }) => `${name}\t${importedAt}\n`).join(''),
    );
    const json = await jobctl.run('images', '-o', 'json');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), list);
    const names = await jobctl.run('images', '-o', 'name');
    assert.equal(names.stdout, 'alpine-3.20\nbusybox\n');

    const pane = await TmuxPane.open(
      `"${process.execPath}" "${JOBCTL}" images; echo JOBCTL-DONE; sleep 600`,
      {
        env: jobctl.env,
        cwd: home,
        rows: 10,
        cols: 100,
      },
    );
    panes.push(pane);
    const shown = await pane.waitFor(/JOBCTL-DONE/);
    assert.match(shown, /^NAME +IMPORTED\n/m);
    assert.match(shown, /^busybox +(just now|\d+ seconds? ago)\n/m);
  });

  it('refuses an unknown -o with a usage error', async () => {
    const result = await jobctl.run('images', '-o', 'yaml');
    assert.equal(result.code, 2);
    assert.match(oneLine(result), /-o expects json, name, not 'yaml'/);
  });
});
