// `jobctl run -i` gives the job jobctl's own stdin, as `ssh host cmd` and `docker run -i` do:
// piped lines arrive whole, 100 MiB arrive byte for byte, and a job that stops reading early
// (`head -1`) ends the run quietly with its own status.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type TestServer } from '../helpers/server.ts';
import { JOBCTL, jobctlFor, type Jobctl } from './jobctl-process.ts';

const run = promisify(execFile);

describe('jobctl run -i', () => {
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

  /** `INPUT | jobctl ARGS` in a shell, as a user types it; the exit status is jobctl's. */
  async function piped(input: string, args: string): Promise<{ stdout: string; code: number }> {
    try {
      const { stdout } = await run(
        'sh',
        ['-c', `${input} | "${process.execPath}" "${JOBCTL}" ${args}`],
        {
          env: jobctl.env,
          cwd: home,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      return { stdout, code: 0 };
    } catch (error) {
      const failed = error as { stdout: string; code: number };
      return { stdout: failed.stdout, code: failed.code };
    }
  }

  it('sends piped lines to the job', async () => {
    const result = await piped(`printf 'a\\nb\\nc\\n'`, 'run -i -- wc -l');
    assert.deepEqual(result, { stdout: '3\n', code: 0 });
  });

  it('sends 100 MiB byte for byte', async () => {
    const file = join(home, 'input.bin');
    const chunk = createHash('sha512').update('seed').digest();
    const data = Buffer.alloc(100 * 1024 * 1024, chunk);
    await writeFile(file, data);
    const local = createHash('sha256').update(data).digest('hex');
    const result = await piped(`cat "${file}"`, 'run -i -- sha256sum');
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${local}  -\n`);
  });

  it("ends quietly with the job's status when the job stops reading", async () => {
    const result = await piped('seq 1 100000000', 'run -i -- head -2');
    assert.deepEqual(result, { stdout: '1\n2\n', code: 0 });
    const failing = await piped(`printf 'x\\n'`, `run -i -- sh -c 'read line; exit 3'`);
    assert.equal(failing.code, 3);
  });
});
