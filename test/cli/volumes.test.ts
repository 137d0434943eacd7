// jobctl's volumes end to end, as a user types them: `volume create|ls|inspect|rm`, `cp` both
// ways (a directory as its content, a file as itself, renamed or into a directory), `run -v
// VOL:/path[:ro]`, no download through a symlink a job left (nor one brought back as a file), a
// download the server cut short reported as a failure, and the one-line remote build `run -f
// --upload . --download out/ -- ...`, which leaves the result in the local directory, exits with
// the job's status and leaves no volume behind: after a success, a failure, a Ctrl-C (or
// SIGTERM, SIGHUP) that stops the job and one that cuts the upload short.
import assert from 'node:assert/strict';
import {
  chmod,
  lstat,
  mkdir,
  readFile,
  readdir,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { jobctlFor, oneLine, type Jobctl } from './jobctl-process.ts';

interface VolumeAnswer {
  name: string;
  sizeBytes: number;
  usedBytes: number;
}

describe('jobctl volume, cp, run -v and run --upload', () => {
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

  async function volumeNames(): Promise<string[]> {
    const listed = await jobctl.run('volume', 'ls', '-q');
    assert.equal(listed.code, 0, listed.stderr);
    return listed.stdout.split('\n').filter((line) => line !== '');
  }

  it('creates, lists, inspects and removes a volume', async () => {
    const made = await jobctl.run('volume', 'create', 'notes', '--size', '32M');
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stdout, 'notes\n');
    assert.deepEqual(await volumeNames(), ['notes']);
    const piped = await jobctl.run('volume', 'ls');
    assert.match(piped.stdout, /^notes\t33554432\t\d+\t\S+\talice\n$/);
    const inspected = await jobctl.run('volume', 'inspect', 'notes');
    const volume = JSON.parse(inspected.stdout) as VolumeAnswer;
    assert.equal(volume.sizeBytes, 32 * 1024 ** 2);
    const missing = await jobctl.run('volume', 'inspect', 'nothing');
    assert.equal(missing.code, 1);
    assert.match(oneLine(missing), /VOLUME_NOT_FOUND/);
    const usage = await jobctl.run('volume', 'create', 'x');
    assert.equal(usage.code, 2);
    assert.match(oneLine(usage), /--size/);
    const removed = await jobctl.run('volume', 'rm', 'notes');
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(await volumeNames(), []);
  });

  it('copies a directory and a file in, mounts the volume in a job (:ro too), and copies results out', async () => {
    assert.equal((await jobctl.run('volume', 'create', 'src', '--size', '32M')).code, 0);
    const project = join(home, 'project');
    await mkdir(join(project, 'lib'), { recursive: true });
    await writeFile(join(project, 'lib', 'a.txt'), 'a\n');
    await writeFile(join(home, 'notes.txt'), 'notes\n');
    const dirIn = await jobctl.run('cp', project, 'src:/');
    assert.equal(dirIn.code, 0, dirIn.stderr);
    const fileIn = await jobctl.run('cp', join(home, 'notes.txt'), 'src:/docs/renamed.txt');
    assert.equal(fileIn.code, 0, fileIn.stderr);
    const intoDir = await jobctl.run('cp', join(home, 'notes.txt'), 'src:/docs/');
    assert.equal(intoDir.code, 0, intoDir.stderr);

    const built = await jobctl.run(
      'run',
      '-f',
      '-v',
      'src:/work/src',
      '--',
      'sh',
      '-c',
      'cd /work/src && cat lib/a.txt docs/renamed.txt docs/notes.txt && mkdir -p out && echo ok > out/r.txt && cp /bin/true out/setuid && chmod 4755 out/setuid',
    );
    assert.equal(built.code, 0, built.stderr);
    assert.equal(built.stdout, 'a\nnotes\nnotes\n');
    const readOnly = await jobctl.run('run', '-f', '-v', 'src:/in:ro', '--', 'touch', '/in/x');
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.stderr, /Read-only file system/);

    const dirOut = await jobctl.run('cp', 'src:/out', join(home, 'results'));
    assert.equal(dirOut.code, 0, dirOut.stderr);
    assert.equal(await readFile(join(home, 'results', 'r.txt'), 'utf8'), 'ok\n');
    // jobctl runs as root here: a set-uid file the job left must not become a set-uid root one.
    const setuid = await stat(join(home, 'results', 'setuid'));
    assert.equal(setuid.mode & 0o6000, 0, `mode ${setuid.mode.toString(8)}`);
    const fileOut = await jobctl.run('cp', 'src:/out/r.txt', join(home, 'r-copy.txt'));
    assert.equal(fileOut.code, 0, fileOut.stderr);
    assert.equal(await readFile(join(home, 'r-copy.txt'), 'utf8'), 'ok\n');
    const missing = await jobctl.run('cp', 'src:/nothing', join(home, 'n'));
    assert.equal(missing.code, 1);
    assert.match(oneLine(missing), /VOLUME_PATH_NOT_FOUND/);
    assert.equal((await jobctl.run('volume', 'rm', 'src')).code, 0);
  });

  it('does not download through a symlink a job left, nor bring one back as a file', async () => {
    assert.equal((await jobctl.run('volume', 'create', 'hostile', '--size', '32M')).code, 0);
    const outside = join(home, 'outside');
    await mkdir(outside);
    const planted = await jobctl.run(
      'run',
      '-f',
      '-v',
      'hostile:/v',
      '--',
      'sh',
      '-c',
      `cd /v && mkdir data && echo x > data/f && ln -s ${outside} out && ln -s /etc/hostname link`,
    );
    assert.equal(planted.code, 0, planted.stderr);
    const build = join(home, 'hostile-build');
    const whole = await jobctl.run('cp', 'hostile:/', build);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal((await lstat(join(build, 'out'))).isSymbolicLink(), true);
    // The next download into out/ would have written through the link, outside build/.
    const through = await jobctl.run('cp', 'hostile:/data', join(build, 'out'));
    assert.equal(through.code, 1, through.stdout);
    assert.match(oneLine(through), /is a symbolic link: jobctl does not download through one/);
    assert.deepEqual(await readdir(outside), []);
    const link = await jobctl.run('cp', 'hostile:/link', join(home, 'copied'));
    assert.equal(link.code, 1, link.stdout);
    assert.match(oneLine(link), /hostile:\/link is not a regular file/);
    await assert.rejects(lstat(join(home, 'copied')), { code: 'ENOENT' });
    assert.equal((await jobctl.run('volume', 'rm', 'hostile')).code, 0);
  });

  it('fails a download the server cuts short (a file its owner cannot read), not leave it as whole', async () => {
    assert.equal((await jobctl.run('volume', 'create', 'partial', '--size', '32M')).code, 0);
    const secret = join(home, 'secret');
    await writeFile(secret, 'hidden\n');
    // jobctl runs as root and reads it; in the volume, the client's uid cannot.
    await chmod(secret, 0o000);
    assert.equal((await jobctl.run('cp', secret, 'partial:/d/secret')).code, 0);
    const cut = await jobctl.run('cp', 'partial:/d', join(home, 'partial'));
    assert.equal(cut.code, 1, cut.stderr);
    assert.match(oneLine(cut), /the server cut the archive of partial:\/d short/);
    assert.equal((await jobctl.run('volume', 'rm', 'partial')).code, 0);
  });

  it('builds remotely in one line: the result comes back, the exit status is the job’s, no volume stays', async () => {
    const project = join(home, 'build');
    await mkdir(project, { recursive: true });
    await writeFile(join(project, 'input.txt'), 'to build\n');
    const here = jobctl.with({}, project);
    const built = await here.run(
      'run',
      '-f',
      '--upload',
      '.',
      '--download',
      'out/',
      '--',
      'sh',
      '-c',
      'mkdir out && tr a-z A-Z < input.txt > out/result.txt && echo done',
    );
    assert.equal(built.code, 0, built.stderr);
    assert.equal(built.stdout, 'done\n');
    assert.equal(await readFile(join(project, 'out', 'result.txt'), 'utf8'), 'TO BUILD\n');
    assert.deepEqual(await volumeNames(), []);

    const failed = await here.run(
      'run',
      '-f',
      '--upload',
      '.',
      '--download',
      'out2',
      '--',
      'sh',
      '-c',
      'mkdir out2 && echo partial > out2/log && exit 3',
    );
    assert.equal(failed.code, 3, failed.stderr);
    assert.equal(await readFile(join(project, 'out2', 'log'), 'utf8'), 'partial\n');
    assert.deepEqual(await volumeNames(), [], 'no volume after a failed job');
  });

  it('stops the job on Ctrl-C during a remote build and still removes the volume', async () => {
    const project = join(home, 'interrupted');
    await mkdir(project, { recursive: true });
    const running = jobctl
      .with({}, project)
      .spawn('run', '-f', '--upload', '.', '--', 'sh', '-c', 'echo started; exec sleep 60');
    await running.waitForStdout(/started/);
    running.child.kill('SIGINT');
    const result = await running.exited;
    assert.equal(result.code, 128 + 15, result.stderr);
    assert.deepEqual(await volumeNames(), []);
    assert.deepEqual(await readdir(project), []);
  });

  it('handles SIGTERM and SIGHUP during a remote build as Ctrl-C: the job stops, the volume goes', async () => {
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
      const project = join(home, `terminated-${signal}`);
      await mkdir(project, { recursive: true });
      const running = jobctl
        .with({}, project)
        .spawn('run', '-f', '--upload', '.', '--', 'sh', '-c', 'echo started; exec sleep 60');
      await running.waitForStdout(/started/);
      running.child.kill(signal);
      const result = await running.exited;
      assert.equal(result.code, 128 + 15, `${signal}: ${result.stderr}`);
      assert.deepEqual(await volumeNames(), [], signal);
    }
  });

  it('cuts the upload short on Ctrl-C, starts no job and removes the volume', async () => {
    const project = join(home, 'large');
    await mkdir(project, { recursive: true });
    // 512 MiB of zeros to read and send: long enough to be interrupted on the way.
    await writeFile(join(project, 'zeros'), '');
    await truncate(join(project, 'zeros'), 512 * 1024 ** 2);
    const since = server.logs.length;
    const running = jobctl
      .with({}, project)
      .spawn('run', '-f', '--upload', '.', '--', 'echo', 'never');
    // The volume is made (its request answered): the upload is on its way, or about to be.
    await server.waitForLog(
      (entry) => entry.route === '/v1/volumes' && entry.method === 'POST' && entry.status === 201,
      since,
    );
    running.child.kill('SIGINT');
    const result = await running.exited;
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /interrupted while sending \./);
    assert.equal(result.stdout, '');
    assert.deepEqual(await volumeNames(), []);
  });

  it('refuses --download without --upload, and --upload without -f or --wait', async () => {
    const alone = await jobctl.run('run', '--download', 'out', '--', 'true');
    assert.equal(alone.code, 125);
    assert.match(oneLine(alone), /--upload/);
    const background = await jobctl.run('run', '--upload', '.', '--', 'true');
    assert.equal(background.code, 125);
    assert.match(oneLine(background), /-f or --wait/);
    const badMount = await jobctl.run('run', '-f', '-v', 'nocolon', '--', 'true');
    assert.equal(badMount.code, 125);
    assert.match(oneLine(badMount), /VOL:PATH/);
  });
});
