// An online backup and a restore, as docs/operations.md has an operator do them: `npm run backup`
// while the server runs jobs (one ended, one running) and appends audit records, with the
// server's own settings; `npm run restore` into a new data directory; a server started there
// serves the old jobs (records and output) and finds its audit trail intact. The backup is
// private (0700 directories, 0600 files), and a restore refuses a data directory in use.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { AuditVerdict } from '../../src/contract/audit.ts';
import { inheritedEnv, ROOT, startServer, type Job, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);

/** A script as `npm run NAME -- ...` runs it, with the test server's settings in the environment. */
async function script(
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [join(ROOT, 'scripts', `${name}.ts`), ...args],
      {
        cwd: ROOT,
        env: { ...inheritedEnv(), ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Every path under `dir` with its mode bits, relative to it. */
async function modes(dir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const name of await readdir(dir, { recursive: true })) {
    found.set(name, (await stat(join(dir, name))).mode & 0o777);
  }
  return found;
}

describe('online backup and restore', () => {
  let first: TestServer;
  let second: TestServer | undefined;
  let work: string;
  let ended: Job;
  let running: Job;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'jobworker-backup-'));
    first = await startServer();
    ended = await first.startJob('alice', { command: 'echo', args: ['kept'] });
    await first.waitForEnd('alice', ended.id);
    running = await first.startJob('alice', {
      command: 'sh',
      args: ['-c', 'echo started; sleep 60'],
    });
    await first.waitForOutput('alice', running.id);
  });
  after(async () => {
    await second?.dispose();
    await first.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it('backs up a running server and restores it where a new server serves the old jobs', async () => {
    // Audit records keep being appended while the backup is taken.
    const reads = Array.from({ length: 40 }, () =>
      first.request('alice', 'GET', `/v1/jobs/${ended.id}/output`),
    );
    const backupDir = join(work, 'backup');
    const taken = await script('backup', ['--to', backupDir, '--data-dir', first.dataDir], {
      CERTS_DIR: first.certsDir,
    });
    await Promise.all(reads);
    assert.equal(taken.code, 0, taken.stderr);
    assert.match(taken.stdout, /audit trail \(\d+ records, intact\)/);
    for (const [path, mode] of await modes(backupDir)) {
      const isDir = (await stat(join(backupDir, path))).isDirectory();
      assert.equal(mode, isDir ? 0o700 : 0o600, `${path}: ${mode.toString(8)}`);
    }
    assert.equal((await stat(backupDir)).mode & 0o777, 0o700);

    const base = join(work, 'restored');
    const restored = await script(
      'restore',
      ['--from', backupDir, '--data-dir', join(base, 'data'), '--certs-dir', join(base, 'certs')],
      {},
    );
    assert.equal(restored.code, 0, restored.stderr);

    second = await startServer({ baseDir: base });
    const output = await second.request('alice', 'GET', `/v1/jobs/${ended.id}/output`);
    assert.equal(output.status, 200, output.text());
    assert.equal(output.text(), 'kept\n');
    const endedRecord = (await second.request('alice', 'GET', `/v1/jobs/${ended.id}`)).json<Job>();
    assert.equal(endedRecord.status, 'exited');
    assert.equal(endedRecord.exitCode, 0);
    // Backed up while it ran: its output so far is there; no supervisor here to finish it.
    const runningRecord = await second.request('alice', 'GET', `/v1/jobs/${running.id}`);
    assert.equal(runningRecord.json<Job>().status, 'lost');
    const runningOutput = await second.request('alice', 'GET', `/v1/jobs/${running.id}/output`);
    assert.equal(runningOutput.text(), 'started\n');
    const verdict = await second.request('auditor', 'GET', '/v1/audit/verify');
    const audit = verdict.json<AuditVerdict>();
    assert.ok(audit.ok && audit.headChecked && audit.records > 3, JSON.stringify(audit));
    // The original goes on untouched: its job still runs.
    const original = await first.request('alice', 'GET', `/v1/jobs/${running.id}`);
    assert.equal(original.json<Job>().status, 'running');
  });

  it('leaves output out with --no-output, the jobs and how they ended still there', async () => {
    const backupDir = join(work, 'no-output');
    const taken = await script(
      'backup',
      ['--to', backupDir, '--no-output', '--no-volumes', '--data-dir', first.dataDir],
      { CERTS_DIR: first.certsDir },
    );
    assert.equal(taken.code, 0, taken.stderr);
    // The supervisor's files come along (they say the job was launched); its output does not.
    const files = await readdir(join(backupDir, 'data', 'jobs', running.id));
    assert.ok(files.includes('shim.log'), files.join(' '));
    for (const output of ['output.log', 'output.idx', 'output.times']) {
      assert.ok(!files.includes(output), files.join(' '));
    }
    const base = join(work, 'restored-no-output');
    const restored = await script(
      'restore',
      ['--from', backupDir, '--data-dir', join(base, 'data'), '--certs-dir', join(base, 'certs')],
      {},
    );
    assert.equal(restored.code, 0, restored.stderr);
    const third = await startServer({ baseDir: base });
    try {
      const job = (await third.request('alice', 'GET', `/v1/jobs/${ended.id}`)).json<Job>();
      assert.equal(job.status, 'exited');
      const output = await third.request('alice', 'GET', `/v1/jobs/${ended.id}/output`);
      assert.equal(output.status, 410, output.text());
      assert.equal(output.json().code, 'OUTPUT_UNAVAILABLE');
      const wasRunning = await third.request('alice', 'GET', `/v1/jobs/${running.id}`);
      assert.equal(wasRunning.json<Job>().status, 'lost');
    } finally {
      await third.dispose();
    }
  });

  it('takes the certificates directory, CA key included, only --with-certs', async () => {
    const backupDir = join(work, 'with-certs');
    const taken = await script('backup', ['--to', backupDir, '--with-certs'], {
      DATA_DIR: first.dataDir,
      CERTS_DIR: first.certsDir,
    });
    assert.equal(taken.code, 0, taken.stderr);
    assert.equal((await stat(join(backupDir, 'certs', 'ca-key.pem'))).mode & 0o777, 0o600);
    // Without the flag only the audit key goes (test above): never the CA's.
    await assert.rejects(stat(join(work, 'backup', 'certs')), { code: 'ENOENT' });
    assert.ok((await stat(join(work, 'backup', 'audit-key.pem'))).isFile());
    const certs = join(work, 'restored-certs', 'certs');
    const restored = await script(
      'restore',
      [
        '--from',
        backupDir,
        '--data-dir',
        join(work, 'restored-certs', 'data'),
        '--certs-dir',
        certs,
      ],
      {},
    );
    assert.equal(restored.code, 0, restored.stderr);
    const original = [...(await modes(first.certsDir)).keys()].sort();
    assert.deepEqual([...(await modes(certs)).keys()].sort(), original);
    assert.deepEqual(
      await readFile(join(certs, 'ca-key.pem')),
      await readFile(join(first.certsDir, 'ca-key.pem')),
    );
  });

  it('refuses to restore into a data directory that is not empty', async () => {
    const target = join(work, 'in-use', 'data');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'jobworker.db'), '');
    const refused = await script(
      'restore',
      ['--from', join(work, 'backup'), '--data-dir', target, '--certs-dir', join(work, 'c')],
      {},
    );
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is not empty: restore only into a new directory/);
  });
});
