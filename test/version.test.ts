// One version, written once in package.json, said everywhere a user or an operator asks: the
// server's --version, GET /healthz, and jobctl's --version and version (client and server).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { jobctlFor, type Jobctl } from './cli/jobctl-process.ts';
import { ROOT, startServer, type TestServer } from './helpers/server.ts';

const run = promisify(execFile);
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

describe("package.json's version", () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let dispose: () => Promise<void>;

  before(async () => {
    server = await startServer();
    ({ jobctl, dispose } = await jobctlFor(server));
  });
  after(async () => {
    await dispose();
    await server.dispose();
  });

  it('is what the server says with --version, without starting', async () => {
    const { stdout, stderr } = await run(process.execPath, ['src/server.ts', '--version'], {
      cwd: ROOT,
    });
    assert.equal(stdout, `jobworker ${version} (Node.js ${process.version})\n`);
    assert.equal(stderr, '');
  });

  it('is in GET /healthz, for every role', async () => {
    for (const client of ['admin', 'alice', 'auditor'] as const) {
      const health = (await server.request(client, 'GET', '/healthz')).json<{ version: string }>();
      assert.equal(health.version, version);
    }
  });

  it("is jobctl's, and version shows the server's beside it", async () => {
    const [flag, command] = await Promise.all([jobctl.run('--version'), jobctl.run('version')]);
    assert.deepEqual(flag, {
      code: 0,
      signal: null,
      stdout: `jobctl ${version} (Node.js ${process.version})\n`,
      stderr: '',
    });
    assert.deepEqual(command, {
      code: 0,
      signal: null,
      stdout: `Client: ${version}\nServer: ${version}\n`,
      stderr: '',
    });
  });

  it('jobctl version still says its own when the server cannot be reached', async () => {
    const result = await jobctl.with({ JOBCTL_SERVER: 'https://localhost:1' }).run('version');
    assert.equal(result.code, 1);
    assert.equal(result.stdout, `Client: ${version}\n`);
    assert.match(result.stderr, /^jobctl: cannot connect to localhost:1/);
  });
});
