// The README is the user's manual: its curl examples are run here as written, from a directory
// whose certs/ is the test server's PKI. Only the port differs (the test server listens on a free
// one instead of 8443).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, startServer, type TestServer } from './helpers/server.ts';

const run = promisify(execFile);

/** The "sh" blocks between two markers of the README. */
function examples(startMarker: string, endMarker: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(startMarker);
  const end = readme.indexOf(endMarker);
  assert.ok(start > 0 && end > start, `README marks its examples with ${startMarker}`);
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

function curlExamples(): string[] {
  return examples('<!-- readme-test:', '<!-- End of curl examples -->');
}

describe('README curl examples', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('has examples for every endpoint', () => {
    const all = curlExamples().join('\n');
    for (const fragment of [
      '/v1/jobs?follow=true',
      '/v1/jobs/$ID/output',
      '/stop',
      '-X DELETE',
      '/healthz',
      '/v1/audit',
      '/v1/audit/verify',
      '/v1/limits',
      '/metrics',
      '/openapi.json',
      '/stdin',
    ]) {
      assert.ok(all.includes(fragment), `an example uses ${fragment}`);
    }
  });

  it('every example runs as written and succeeds', async () => {
    const outputs: string[] = [];
    for (const example of curlExamples()) {
      const script = `set -e\n${example.replaceAll('localhost:8443', `localhost:${server.port}`)}`;
      const { stdout } = await run(
        'sh',
        ['-c', script.replaceAll('curl ', 'curl -sS --fail-with-body ')],
        {
          cwd: server.baseDir,
          timeout: 30_000,
        },
      );
      outputs.push(stdout);
    }
    assert.equal(outputs[0], 'hello\n');
    assert.match(outputs[1]!, /"status":"running"/);
    assert.match(outputs[2]!, /^\{"jobs":\[/);
    assert.match(outputs[3]!, /tick 1\ntick 2\ntick 3\n/);
    assert.match(outputs[4]!, /"status":"stopping"/);
    assert.match(outputs[5]!, /"status":"ok"/);
    assert.match(outputs[6]!, /^\{"records":\[\{"seq":\d+.*"action":"job\.stop"/);
    assert.match(outputs[6]!, /\{"ok":true,"records":\d+,"headChecked":true\}/);
    assert.match(outputs[6]!, /# TYPE jobworker_jobs gauge/);
    assert.match(outputs[7]!, /"openapi":"3\.1/);
    assert.match(outputs[8]!, /^HTTP\/1\.1 200 OK\r\n/m);
    assert.match(outputs[8]!, /"labels":\{"pipeline":"4711"\}.*"status":"exited"/);
    assert.equal(outputs[9], '3\n');
    assert.match(outputs[10]!, /^\{"role":"user","mayStart":true,"ceilings":/);
  });
});

describe('README certificate examples', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it("run as written against the server's PKI, and the revoked client is refused", async () => {
    const blocks = examples('<!-- readme-certs-test:', '<!-- End of certs examples -->');
    assert.equal(blocks.length, 1);
    const commands = blocks[0]!.split('\n').filter((line) => line.startsWith('npm run certs'));
    assert.ok(commands.length >= 5, commands.join('\n'));
    const outputs: string[] = [];
    for (const command of commands) {
      const { stdout } = await run('sh', ['-c', command], {
        cwd: ROOT,
        env: { ...process.env, CERTS_DIR: server.certsDir },
        timeout: 30_000,
      });
      outputs.push(stdout);
    }
    assert.match(outputs[0]!, /client ci-runner \(role user\)/);
    assert.match(outputs[1]!, /client\s+ci-runner\s+user/);
    assert.match(outputs[2]!, /revoked ci-runner/);
    const refused = await run(
      'curl',
      [
        '-sS',
        '--cacert',
        join(server.certsDir, 'ca.pem'),
        '--cert',
        join(server.certsDir, 'clients', 'ci-runner', 'cert.pem'),
        '--key',
        join(server.certsDir, 'clients', 'ci-runner', 'key.pem'),
        `https://localhost:${server.port}/healthz`,
      ],
      { timeout: 30_000 },
    ).then(
      () => 'accepted',
      () => 'refused',
    );
    assert.equal(refused, 'refused');
  });
});

describe('README audit example', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    await server.startJob('alice', { command: 'true' });
  });
  after(async () => {
    await server.dispose();
  });

  it('fetches the key and verifies the log as written', async () => {
    const [block] = examples('<!-- readme-audit-test:', '<!-- End of audit example -->');
    assert.ok(block !== undefined);
    // Only locations differ: the test server's port, PKI and data directory, and a temporary
    // file for the key set instead of one in the project directory.
    const jwks = join(server.baseDir, 'jwks.json');
    const script = block
      .replaceAll('localhost:8443', `localhost:${server.port}`)
      .replaceAll('certs/', `${server.certsDir}/`)
      .replaceAll('data/', `${server.dataDir}/`)
      .replaceAll('> jwks.json', `> ${jwks}`)
      .replaceAll('--jwks jwks.json', `--jwks ${jwks}`);
    const { stdout } = await run('sh', ['-c', `set -e\n${script}`], { cwd: ROOT, timeout: 30_000 });
    assert.match(stdout, /intact, \d+ records, and the signed head agrees/);
  });
});

describe('README jobctl examples', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('run as written against a server', async () => {
    const [block] = examples('<!-- readme-jobctl-test:', '<!-- End of jobctl examples -->');
    const lines = (block ?? '').split('\n');
    // The PATH line, as the reader types it first, then each command in a shell of its own.
    const setPath = lines.find((line) => line.startsWith('export PATH='));
    assert.ok(setPath !== undefined, 'the block sets PATH for jobctl');
    const commands = lines
      .filter((line) => /^(.* \| )?jobctl /.test(line))
      .map((line) => `${setPath}\n${line}`);
    assert.equal(commands.length, 8);
    // Pointed at the test server and its PKI; jobctl finds ./certs of a local server by itself.
    const env = {
      ...process.env,
      JOBCTL_SERVER: `https://localhost:${server.port}`,
      JOBCTL_CERTS_DIR: server.certsDir,
    };
    const results = [];
    for (const command of commands) {
      results.push(
        await run('sh', ['-c', command], { cwd: ROOT, env, timeout: 30_000 }).then(
          ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
          (error: { code: number; stdout: string; stderr: string }) => ({
            code: error.code,
            stdout: error.stdout,
            stderr: error.stderr,
          }),
        ),
      );
    }
    assert.deepEqual(results[0], {
      code: 3,
      stdout: 'to stdout\n',
      stderr: 'to stderr\n',
    });
    assert.match(results[1]!.stdout, /^[0-9a-f-]{36}\n$/);
    assert.match(results[2]!.stdout, /sleep/);
    assert.match(results[3]!.stdout, /^Usage:\n {2}jobctl \[connection options\] COMMAND/m);
    assert.equal(results[4]!.stdout, '3\n');
    assert.deepEqual(results[5], { code: 0, stdout: 'a\nb\nc\n', stderr: '' });
    assert.deepEqual(results[6], { code: 3, stdout: '3\n', stderr: '' });
    assert.match(results[7]!.stdout, /^Name: +\S+\nRole: +\w+\n/);
  });
});

describe('README volumes example', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    server = await startServer();
    dir = await mkdtemp(join(server.baseDir, 'readme-volumes-'));
  });
  after(async () => {
    await server.dispose();
  });

  it('runs as written, from an empty directory, and leaves the build result and no volume', async () => {
    const [block] = examples('<!-- readme-volumes-test:', '<!-- End of volumes example -->');
    assert.ok(block !== undefined);
    const env = {
      ...process.env,
      PATH: `${join(ROOT, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      JOBCTL_SERVER: `https://localhost:${server.port}`,
      JOBCTL_CERTS_DIR: server.certsDir,
    };
    const { stdout } = await run('sh', ['-c', `set -e\n${block}`], {
      cwd: dir,
      env,
      timeout: 60_000,
    });
    assert.match(stdout, /^cache\nkept\ncache\t67108864\t\d+\t\S+\talice\ncache\nHELLO\n$/);
    const left = await run('sh', ['-c', 'jobctl volume ls -q'], { cwd: dir, env });
    assert.equal(left.stdout, '');
  });
});
