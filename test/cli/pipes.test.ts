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

  /** Runs `jobctl ARGS | READER` in a shell with jobctl's settings; returns the reader's stdout. */
  async function piped(args: string, reader: string): Promise<string> {
    const { stdout } = await run(
      'sh',
      ['-c', `"${process.execPath}" "${JOBCTL}" ${args} | ${reader}`],
      { env: jobctl.env, cwd: home, maxBuffer: 64 * 1024 * 1024 },
    );
    return stdout;
  }

  it('writes the same bytes into a slow pipe as into a file', async () => {
    const file = join(home, 'ps.json');
    await run('sh', ['-c', `"${process.execPath}" "${JOBCTL}" ps --all --json > "${file}"`], {
      env: jobctl.env,
      cwd: home,
    });
    const expected = await readFile(file, 'utf8');
    assert.ok(expected.length > 4 * 65536, `${expected.length} bytes`);
    assert.equal((JSON.parse(expected) as unknown[]).length, 400);
    // The reader starts late: jobctl has long finished writing what fits in the pipe.
    const throughPipe = await piped('ps --all --json', '(sleep 1; cat)');
    assert.equal(throughPipe.length, expected.length);
    assert.equal(throughPipe, expected);
    const table = join(home, 'ps.txt');
    await run('sh', ['-c', `"${process.execPath}" "${JOBCTL}" ps --all > "${table}"`], {
      env: jobctl.env,
      cwd: home,
    });
    const tableLines = (await readFile(table, 'utf8')).split('\n').length - 1;
    assert.ok(tableLines >= 400, `${tableLines} lines`);
    const lines = await piped('ps --all', '(sleep 1; wc -l)');
    assert.equal(Number(lines.trim()), tableLines);
  });

  it('ends quietly when the reader stops early', async () => {
    const { stdout, stderr } = await run(
      'sh',
      ['-c', `"${process.execPath}" "${JOBCTL}" ps --all | head -2`],
      { env: jobctl.env, cwd: home },
    );
    assert.equal(stdout.trim().split('\n').length, 2);
    assert.equal(stderr, '');
  });
});
