// Jobs that mount their client's volumes ("volumes": [{name, path, readOnly}]): a job reads what
// was uploaded and writes results that download back, as the volume's owner (its root is the
// job's uid's); a read-only mount refuses writes (EROFS); a write past the volume's size is
// ENOSPC; bob naming alice's volume gets the very problem of a volume that does not exist; a
// volume a running or queued job names is not removed (409) until the job has ended (204); and the
// request's rules: at most 8 volumes, absolute normalised paths outside the sandbox's own, no two
// at one path, none under another (nested), not on the host's filesystem; a volume path through
// a link (an operator's bind holding one) fails the start rather than follow it onto the host.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';
import { tarOf } from '../helpers/tar.ts';

const TAR = { 'content-type': 'application/x-tar' };

describe('jobs with volumes', () => {
  let server: TestServer;
  before(async () => {
    // One running job per client: a second one waits in the queue, naming its volume.
    server = await startServer({ env: { CLIENT_MAX_RUNNING: '1' } });
    for (const name of ['src', 'small', 'busy', 'later']) {
      const made = await server.request('alice', 'POST', '/v1/volumes', {
        json: { name, size: '32M' },
      });
      assert.equal(made.status, 201, made.text());
    }
  });
  after(() => server.dispose());

  /** Runs a job of alice's to its end: its record and its output (stdout and stderr as one). */
  async function run(spec: Record<string, unknown>): Promise<{ job: Job; output: string }> {
    const job = await server.startJob('alice', { stderr: 'merged', ...spec });
    const ended = await server.waitForEnd('alice', job.id);
    const output = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    return { job: ended, output: output.text() };
  }

  it('reads what was uploaded and writes results that download back, as the owner of the root', async () => {
    const upload = await server.request('alice', 'PUT', '/v1/volumes/src/archive?path=/', {
      body: tarOf([{ name: 'hello.txt', content: 'hello from the client\n' }]),
      headers: TAR,
    });
    assert.equal(upload.status, 204, upload.text());
    const { job, output } = await run({
      command: 'sh',
      args: [
        '-c',
        'cat hello.txt && mkdir out && echo built > out/result.txt && [ "$(stat -c %u .)" = "$(id -u)" ] && echo owner',
      ],
      cwd: '/work/src',
      volumes: [{ name: 'src', path: '/work/src' }],
    });
    assert.equal(job.status, 'exited', output);
    assert.equal(job.exitCode, 0, output);
    assert.equal(output, 'hello from the client\nowner\n');
    assert.deepEqual(job.volumes, [{ name: 'src', path: '/work/src', readOnly: false }]);

    const results = await server.request('alice', 'GET', '/v1/volumes/src/archive?path=/out');
    assert.equal(results.status, 200, results.text());
    const local = mkdtempSync(join(server.baseDir, 'results-'));
    try {
      execFileSync('tar', ['-x', '-C', local, '--no-same-owner'], { input: results.body });
      assert.equal(readFileSync(join(local, 'result.txt'), 'utf8'), 'built\n');
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('refuses writes to a read-only mount (EROFS) and lets the job read it', async () => {
    const { job, output } = await run({
      command: 'sh',
      args: ['-c', 'cat /src/hello.txt; echo x > /src/new.txt'],
      volumes: [{ name: 'src', path: '/src', readOnly: true }],
    });
    assert.notEqual(job.exitCode, 0);
    assert.match(output, /^hello from the client\n/);
    assert.match(output, /Read-only file system/);
  });

  it('stops a write past the volume size with ENOSPC', async () => {
    const { job, output } = await run({
      command: 'sh',
      args: ['-c', 'dd if=/dev/zero of=/data/big bs=1M count=64 2>&1; echo "status $?"'],
      volumes: [{ name: 'small', path: '/data' }],
    });
    assert.equal(job.exitCode, 0, output);
    assert.match(output, /No space left on device/);
    assert.match(output, /status 1\n$/);
  });

  it("answers bob's job naming alice's volume with the problem of a volume that does not exist", async () => {
    const start = (name: string) =>
      server.request('bob', 'POST', '/v1/jobs', {
        json: { command: 'true', volumes: [{ name, path: '/work/x' }] },
      });
    const alices = await start('src');
    const none = await start('nothing');
    assert.equal(alices.status, 404);
    assert.equal(none.status, 404);
    const problem = alices.json<{ code: string; detail: string; title: string }>();
    const missing = none.json<{ code: string; detail: string; title: string }>();
    assert.equal(problem.code, 'VOLUME_NOT_FOUND');
    assert.deepEqual(
      {
        ...problem,
        instance: undefined,
        requestId: undefined,
        detail: problem.detail.replace("'src'", 'NAME'),
      },
      {
        ...missing,
        instance: undefined,
        requestId: undefined,
        detail: missing.detail.replace("'nothing'", 'NAME'),
      },
    );
    const bobs = await server.request('bob', 'GET', '/v1/jobs?status=queued,running,exited');
    assert.deepEqual(bobs.json<{ jobs: Job[] }>().jobs, [], 'no job was recorded for bob');
  });

  it('refuses to remove a volume a running or queued job names (409), then removes it once they ended (204)', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'echo ready; exec sleep 60'],
      volumes: [{ name: 'busy', path: '/work/busy' }],
    });
    await server.waitForOutput('alice', job.id);
    const refused = await server.request('alice', 'DELETE', '/v1/volumes/busy');
    assert.equal(refused.status, 409);
    assert.equal(refused.json().code, 'VOLUME_IN_USE');
    const queued = await server.startJob('alice', {
      command: 'true',
      volumes: [{ name: 'later', path: '/later' }],
    });
    assert.equal(queued.status, 'queued');
    const waiting = await server.request('alice', 'DELETE', '/v1/volumes/later');
    assert.equal(waiting.status, 409, 'a queued job names it');
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    await server.waitForEnd('alice', job.id);
    assert.equal((await server.waitForEnd('alice', queued.id)).exitCode, 0);
    for (const name of ['busy', 'later']) {
      const removed = await server.request('alice', 'DELETE', `/v1/volumes/${name}`);
      assert.equal(removed.status, 204, removed.text());
    }
  });

  it('refuses more than 8 volumes, paths it may not mount at, two at one path or nested, and the host filesystem (400)', async () => {
    const refusal = async (volumes: unknown, extra: Record<string, unknown> = {}) => {
      const answer = await server.request('admin', 'POST', '/v1/jobs', {
        json: { command: 'true', volumes, ...extra },
      });
      assert.equal(answer.status, 400, `${JSON.stringify(volumes)}: ${answer.text()}`);
      return answer.json<{ code: string; errors?: { field: string; message: string }[] }>();
    };
    const nine = Array.from({ length: 9 }, (_, i) => ({ name: 'src', path: `/v${i}` }));
    assert.equal((await refusal(nine)).code, 'INVALID_REQUEST');
    for (const path of [
      'work',
      '/',
      '/proc/x',
      '/usr',
      '/etc/ssl',
      '/dev',
      '/work/../etc',
      '/work/',
      '//work',
      '/work/./a',
    ]) {
      const problem = await refusal([{ name: 'src', path }]);
      assert.equal(problem.errors?.[0]?.field, 'volumes.0.path', path);
    }
    const twice = await refusal([
      { name: 'src', path: '/a' },
      { name: 'small', path: '/a' },
    ]);
    assert.match(JSON.stringify(twice), /two volumes at \/a/);
    // Nested volumes: jobshim would make the inner mount point inside the outer volume as root
    // on the host, where another job of the client could race a symlink (a -> /etc).
    for (const [outer, inner] of [
      ['/work/v', '/work/v/a/b'],
      ['/work', '/work/v'],
    ] as const) {
      const nested = await refusal([
        { name: 'small', path: inner },
        { name: 'src', path: outer },
      ]);
      assert.equal(nested.errors?.[0]?.field, 'volumes');
      assert.match(
        nested.errors?.[0]?.message ?? '',
        new RegExp(`volume at ${inner} is under another volume at ${outer}: volumes may not nest`),
      );
    }
    // A sibling that only shares a prefix of its name is not nested: the schema lets it by (the
    // admin has no volume of that name, so it is the lookup that answers).
    const siblings = await server.request('admin', 'POST', '/v1/jobs', {
      json: {
        command: 'true',
        volumes: [
          { name: 'src', path: '/work/v' },
          { name: 'small', path: '/work/vv' },
        ],
      },
    });
    assert.equal(siblings.json<{ code: string }>().code, 'VOLUME_NOT_FOUND', siblings.text());
    const onHost = await refusal([{ name: 'src', path: '/a' }], { sandbox: 'host' });
    assert.equal(onHost.errors?.[0]?.field, 'volumes');
    assert.equal((await refusal([{ name: '../x', path: '/a' }])).code, 'INVALID_REQUEST');
  });
});

describe('a volume whose path goes through a link', () => {
  it('is refused at the start, not followed onto the host', async () => {
    // An operator's bind holding a link to a host directory: jobshim makes a volume's mount
    // point as root before pivot_root, where the link would lead it onto the host's tree.
    await mkdir('/opt', { recursive: true });
    const shared = await mkdtemp('/opt/jobworker-link-');
    const target = await mkdtemp('/opt/jobworker-target-');
    await symlink(target, join(shared, 'l'));
    const server = await startServer({
      env: { SANDBOX_BINDS: `/bin,/etc,/lib,/lib64,/sbin,/usr,${shared}` },
    });
    try {
      const made = await server.request('alice', 'POST', '/v1/volumes', {
        json: { name: 'linked', size: '32M' },
      });
      assert.equal(made.status, 201, made.text());
      const started = await server.request('alice', 'POST', '/v1/jobs', {
        json: { command: 'true', volumes: [{ name: 'linked', path: `${shared}/l/v` }] },
      });
      assert.equal(started.status, 201, started.text());
      const ended = await server.waitForEnd('alice', started.json<Job>().id);
      assert.equal(ended.status, 'failed');
      assert.equal(ended.error, 'sandbox: mount volumes: Too many levels of symbolic links');
      assert.deepEqual(await readdir(target), [], 'nothing was made through the link');
    } finally {
      await server.dispose();
      await rm(shared, { recursive: true, force: true });
      await rm(target, { recursive: true, force: true });
    }
  });
});
