// docs/operations.md as an operator follows it: the tested blocks run as written (from the
// project's directory: the test server's base directory has the same data/ and certs/). A backup
// taken while the server is stopped (its jobs still running) restores jobs, output, the PKI and
// an intact audit trail on a host that lost them; replacing the CA gives clients new
// certificates that work and makes the old ones useless.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { healthzWith, ROOT, startServer, type Job } from '../helpers/server.ts';

const run = promisify(execFile);

/** The `sh` blocks marked `<!-- tested -->`, in order. */
async function testedBlocks(): Promise<string[]> {
  const text = await readFile(join(ROOT, 'docs', 'operations.md'), 'utf8');
  return [...text.matchAll(/<!-- tested -->\s*```sh\n([\s\S]*?)```/g)].map(
    (match) => match[1] ?? '',
  );
}

async function shell(script: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run('sh', ['-ec', script], {
    cwd,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return stdout;
}

describe('docs/operations.md', () => {
  it('backs up while jobs run, and restores jobs, output, audit trail and PKI', async () => {
    const blocks = await testedBlocks();
    const [backup, restore] = [blocks[0] ?? '', blocks[1] ?? ''];
    assert.match(backup, /tar -czf/);
    assert.match(restore, /tar -xzf/);
    const env = { SHUTDOWN_POLICY: 'leave-running' };
    const first = await startServer({ env });
    const { baseDir } = first;
    const ended = await first.startJob('alice', { command: 'echo', args: ['kept'] });
    await first.waitForEnd('alice', ended.id);
    const running = await first.startJob('alice', { command: 'sleep', args: ['30'] });
    await first.stop();
    await shell(backup, baseDir);
    // The host loses its state, and the job that was running with it.
    await shell(`pkill -9 -f '[j]obshim.*${running.id}' || true; rm -rf data certs`, baseDir);
    await shell(restore, baseDir);
    const second = await startServer({ baseDir });
    try {
      const output = await second.request('alice', 'GET', `/v1/jobs/${ended.id}/output`);
      assert.equal(output.text(), 'kept\n');
      // Restored as running, with no supervisor left to say how it ended.
      const job = (await second.request('alice', 'GET', `/v1/jobs/${running.id}`)).json<Job>();
      assert.equal(job.status, 'lost');
      await run(
        'npm',
        [
          'run',
          'audit',
          '--',
          'verify',
          join(baseDir, 'data', 'audit.log'),
          '--key',
          join(baseDir, 'certs', 'audit-key.pem'),
        ],
        { cwd: ROOT },
      );
    } finally {
      await second.dispose();
    }
  });

  it('replaces the CA: new client files work, the old ones no longer do', async () => {
    const blocks = await testedBlocks();
    const replace = blocks[2] ?? '';
    assert.match(replace, /init --force/);
    const server = await startServer();
    const certs = server.certsDir;
    const alice = join(certs, 'clients', 'alice');
    const oldFiles = join(server.baseDir, 'old-alice');
    await shell(`cp -r "${alice}" "${oldFiles}"`, server.baseDir);
    await server.stop();
    await shell(replace, ROOT, { CERTS_DIR: certs });
    const restarted = await startServer({ baseDir: server.baseDir });
    try {
      const port = restarted.port;
      assert.equal(
        await healthzWith(port, {
          ca: join(certs, 'ca.pem'),
          cert: join(alice, 'cert.pem'),
          key: join(alice, 'key.pem'),
        }),
        '200',
      );
      assert.notEqual(
        await healthzWith(port, {
          ca: join(certs, 'ca.pem'),
          cert: join(oldFiles, 'cert.pem'),
          key: join(oldFiles, 'key.pem'),
        }),
        '200',
      );
    } finally {
      await restarted.dispose();
    }
  });
});
