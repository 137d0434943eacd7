// The small files a job's start writes are written before the call returns, not on the thread
// pool: a job's directory and empty output files, the supervisor's environment file, and a new
// job cgroup's limits (issue #38, where each thread-pool round trip stood on every start). A caller
// that reads them at once finds them, without awaiting anything.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeControlNow } from '../../src/launcher/cgroups/cgroup-files.ts';
import { writeEnvironmentFile } from '../../src/launcher/shim-files.ts';
import { createOutputFiles } from '../../src/worker/job-outputs.ts';

describe("a job start's small files", () => {
  const scratch = mkdtempSync(join(tmpdir(), 'launch-files-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('makes the job directory and its empty output files before returning', () => {
    const dir = join(scratch, 'job-1');
    createOutputFiles(dir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const file of ['output.log', 'output.idx']) {
      assert.equal(readFileSync(join(dir, file), 'utf8'), '');
      assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600);
    }
  });

  it('keeps output already written when the files are made again (a restart)', () => {
    const dir = join(scratch, 'job-2');
    createOutputFiles(dir);
    writeFileSync(join(dir, 'output.log'), 'hello\n');
    rmSync(join(dir, 'output.idx'));
    createOutputFiles(dir);
    assert.equal(readFileSync(join(dir, 'output.log'), 'utf8'), 'hello\n');
    assert.equal(readFileSync(join(dir, 'output.idx'), 'utf8'), '');
  });

  it("writes the supervisor's environment file, root's alone, before returning its path", () => {
    const dir = join(scratch, 'job-3');
    createOutputFiles(dir);
    const path = writeEnvironmentFile(dir, { PATH: '/usr/bin:/bin', HOME: '/work' });
    assert.equal(readFileSync(path, 'utf8'), 'PATH=/usr/bin:/bin\0HOME=/work\0');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    // A file left by an earlier attempt is never written over: it may be another's.
    assert.throws(() => writeEnvironmentFile(dir, {}), { code: 'EEXIST' });
    assert.throws(() => writeEnvironmentFile(join(scratch, 'job-4'), { A: 'x\0y' }), /NUL/);
  });

  it("writes a new cgroup's limit before the promise it returns is awaited", async () => {
    const file = join(scratch, 'pids.max');
    const written = writeControlNow(file, '64');
    assert.equal(readFileSync(file, 'utf8'), '64');
    await written;
    await assert.rejects(writeControlNow(join(scratch, 'missing', 'pids.max'), '64'), {
      message: `write '64' to ${join(scratch, 'missing', 'pids.max')}`,
    });
  });
});
