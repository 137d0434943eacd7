// jobctl's output into a pipe is all there and the same as into a file, also when the reader is
// slower than jobctl (it used to exit with all but the first 64 KiB still unwritten), and a
// reader that stops early (`| head`) ends jobctl quietly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type TestServer } from '../helpers/server.ts';
import { JOBCTL, jobctlFor, type Jobctl } from './jobctl-process.ts';

const run = promisify(execFile);

describe('jobctl into a pipe', () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let home: string;
  let dispose: () => Promise<void>;
  before(async () => {
    server = await startServer();
    ({ jobctl, home, dispose } = await jobctlFor(server));
    // Enough jobs that `ps --all --json` is several times a pipe's 64 KiB buffer.
    const ids = Array.from({ length: 400 }, (_, index) => index);
    for (let batch = 0; batch < ids.length; batch += 16) {
      await Promise.all(
        ids.slice(batch, batch + 16).map(() =>
          server.request('alice', 'POST', '/v1/jobs', {
            json: { command: 'echo', args: ['a line of output for the listing'] },
          }),
        ),
      );
    }
  });
  after(async () => {
    await dispose();
    await server.dispose();
  });

  /** Runs `jobctl ARGS` and then `REST` (a redirection or a pipe) in a shell, as a user types it. */
  function shell(args: string, rest: string): Promise<{ stdout: string; stderr: string }> {
    return run('sh', ['-c', `"${process.execPath}" "${JOBCTL}" ${args} ${rest}`], {
      env: jobctl.env,
      cwd: home,
      maxBuffer: 64 * 1024 * 1024,
    });
  }

  it('writes the same bytes into a slow pipe as into a file', async () => {
    const file = join(home, 'ps.json');
    await shell('ps --all --json', `> "${file}"`);
    const expected = await readFile(file, 'utf8');
    assert.ok(expected.length > 4 * 65536, `${expected.length} bytes`);
    assert.equal((JSON.parse(expected) as unknown[]).length, 400);
    // The reader starts late: jobctl has long finished writing what fits in the pipe.
    const throughPipe = (await shell('ps --all --json', '| (sleep 1; cat)')).stdout;
    assert.equal(throughPipe.length, expected.length);
    assert.equal(throughPipe, expected);
    const table = join(home, 'ps.txt');
    await shell('ps --all', `> "${table}"`);
    const tableLines = (await readFile(table, 'utf8')).split('\n').length - 1;
    assert.ok(tableLines >= 400, `${tableLines} lines`);
    const lines = (await shell('ps --all', '| (sleep 1; wc -l)')).stdout;
    assert.equal(Number(lines.trim()), tableLines);
  });

  it('ends quietly when the reader stops early', async () => {
    const { stdout, stderr } = await shell('ps --all', '| head -2');
    assert.equal(stdout.trim().split('\n').length, 2);
    assert.equal(stderr, '');
  });
});
