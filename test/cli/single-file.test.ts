// dist/jobctl, the single executable, as a user without Node.js runs it: built by `npm run
// build:jobctl` (again only when its bundle changed), copied alone to a directory of its own,
// run with a PATH on which there is no node at all, against a real server over mutual TLS; and
// silent on stderr when it succeeds (no experimental-feature warning of Node.js's).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildJobctl } from '../../scripts/build-jobctl.ts';
import { ROOT, startServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('dist/jobctl, the single executable', { timeout: 300_000 }, () => {
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  let version: string;

  /** Runs the copy of dist/jobctl from its own directory, with nothing but `env`. */
  const jobctl = (...args: string[]): Promise<Result> =>
    run(join(dir, 'jobctl'), args, { cwd: dir, env, timeout: 30_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );

  before(async () => {
    const [{ executable }, started] = await Promise.all([buildJobctl(), startServer()]);
    server = started;
    ({ version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    });
    dir = await mkdtemp(join(tmpdir(), 'jobctl-single-file-'));
    await copyFile(executable, join(dir, 'jobctl'));
    // Only the executable's own directory: this machine's Node.js lives in /usr/bin (and /bin).
    env = {
      PATH: dir,
      HOME: dir,
      JOBCTL_CONFIG: join(dir, 'config.json'),
      JOBCTL_SERVER: `https://localhost:${server.port}`,
      JOBCTL_CERTS_DIR: server.certsDir,
      JOBCTL_CLIENT: 'alice',
    };
  });
  after(async () => {
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs where no node is on PATH', async () => {
    const lookup = await run('/bin/sh', ['-c', 'command -v node'], { env }).then(
      ({ stdout }) => `found ${stdout.trim()}`,
      () => 'none',
    );
    assert.equal(lookup, 'none');
  });

  it("--version says the package's version, and nothing on stderr", async () => {
    assert.deepEqual(await jobctl('--version'), {
      code: 0,
      stdout: `jobctl ${version} (Node.js ${process.version})\n`,
      stderr: '',
    });
  });

  it('runs a job and follows it, saying nothing of its own on stderr', async () => {
    assert.deepEqual(await jobctl('run', '-f', '--', 'echo', 'from a job'), {
      code: 0,
      stdout: 'from a job\n',
      stderr: '',
    });
  });

  it("attaches to a job over the API's WebSocket", async () => {
    const started = await jobctl('run', '--', 'sh', '-c', 'sleep 0.5; echo attached');
    assert.equal(started.code, 0, started.stderr);
    const attached = await jobctl('attach', '--no-stdin', '--logs', started.stdout.trim());
    assert.deepEqual(attached, { code: 0, stdout: 'attached\n', stderr: '' });
  });

  it("version shows the client's and the server's", async () => {
    assert.deepEqual(await jobctl('version'), {
      code: 0,
      stdout: `Client: ${version}\nServer: ${version}\n`,
      stderr: '',
    });
  });

  it('fails as jobctl does, with one line', async () => {
    const refused = await jobctl('--server', 'https://localhost:1', 'ps');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^jobctl: cannot connect to localhost:1: connection refused/);
    assert.equal(refused.stderr.split('\n').length, 2, refused.stderr);
  });
});
