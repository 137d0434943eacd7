// jobctl's output into a pipe is all there and the same as into a file, also when the reader is
// slower than jobctl (it used to exit with all but the first 64 KiB still unwritten), and a
// reader that stops early (`| head`) ends jobctl quietly. With 5,000 jobs (filled into the store
// directly) `ps` reads five pages, and `logs` sends 100 MiB.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type TestServer } from '../helpers/server.ts';
import { seedEndedJobs } from '../helpers/seed-jobs.ts';
import { JOBCTL, jobctlFor, shellGrouped, type Jobctl } from './jobctl-process.ts';

const run = promisify(execFile);
const JOBS = 5000;
const LOG_BYTES = 100 * 1024 * 1024;

describe('jobctl into a pipe', () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let home: string;
  let dispose: () => Promise<void>;
  let bigJob: string;
  before(async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'jobworker-pipes-'));
    seedEndedJobs({ dataDir: join(baseDir, 'data'), owner: 'alice', count: JOBS });
    server = await startServer({ baseDir });
    ({ jobctl, home, dispose } = await jobctlFor(server));
    const big = await server.startJob('alice', {
      command: 'head',
      args: ['-c', String(LOG_BYTES), '/dev/urandom'],
    });
    bigJob = big.id;
    const ended = await server.waitForEnd('alice', bigJob);
    assert.equal(ended.outputBytes, LOG_BYTES);
  });
  after(async () => {
    await dispose();
    await server.dispose();
  });

  /** Runs `jobctl ARGS` and then `REST` (a redirection or a pipe) in a shell, as a user types it. */
  // In a process group of its own, killed with the pipeline if the test ends first.
  function shell(args: string, rest: string): Promise<{ stdout: string; stderr: string }> {
    return shellGrouped(`"${process.execPath}" "${JOBCTL}" ${args} ${rest}`, {
      env: jobctl.env,
      cwd: home,
    });
  }

  /** What `jobctl ARGS` writes into a file, and into a pipe whose reader starts a second late. */
  async function fileAndPipe(args: string, reader = 'cat'): Promise<[string, string]> {
    const file = join(home, 'out');
    await shell(args, `> "${file}"`);
    const inFile = (
      await run('sh', ['-c', `${reader} < "${file}"`], { maxBuffer: 64 * 1024 * 1024 })
    ).stdout;
    const throughPipe = (await shell(args, `| (sleep 1; ${reader})`)).stdout;
    return [inFile, throughPipe];
  }

  it('writes every page of ps --all into a slow pipe, as into a file', async () => {
    const [inFile, throughPipe] = await fileAndPipe('ps --all');
    assert.equal(inFile.split('\n').length - 1, JOBS + 1);
    assert.equal(throughPipe, inFile);
  });

  it('writes ps --all --json as one JSON array jq reads whole', async () => {
    const [inFile, throughPipe] = await fileAndPipe('ps --all --json');
    assert.equal(throughPipe, inFile);
    assert.equal((JSON.parse(inFile) as unknown[]).length, JOBS + 1);
    const { stdout } = await shell('ps --all --json', '| (sleep 1; jq length)');
    assert.equal(stdout.trim(), String(JOBS + 1));
  });

  it('writes inspect and 100 MiB of logs into a slow pipe, as into a file', async () => {
    const [inspected, inspectedThroughPipe] = await fileAndPipe(`inspect ${bigJob}`);
    assert.equal(inspectedThroughPipe, inspected);
    assert.equal((JSON.parse(inspected) as { id: string }).id, bigJob);
    const [logs, logsThroughPipe] = await fileAndPipe(`logs ${bigJob}`, 'sha256sum');
    assert.equal(logsThroughPipe, logs);
    const { stdout } = await shell(`logs ${bigJob}`, '| (sleep 1; wc -c)');
    assert.equal(Number(stdout.trim()), LOG_BYTES);
  });

  it('ends quietly when the reader stops early', async () => {
    for (const args of ['ps --all', 'ps --all --json', `logs ${bigJob}`]) {
      const { stdout, stderr } = await shell(args, '| head -2');
      assert.ok(stdout.split('\n').length <= 3, args);
      assert.equal(stderr, '', args);
    }
  });
});
