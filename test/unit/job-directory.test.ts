// A job directory's files are named in src/jobs/job-directory.ts alone: the real supervisor,
// built with the header generated from it, leaves exactly the files that module names, and the
// paths the server opens are those names in the job's directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUILD_DIR, SHIM_PATH } from '../../src/launcher/built-programs.ts';
import { readShimStatus } from '../../src/launcher/shim-files.ts';
import { ROOT } from '../helpers/server.ts';
import {
  JOB_FILE_NAMES,
  jobDirectoryHeader,
  jobFile,
  jobFiles,
} from '../../src/jobs/job-directory.ts';

describe('the job directory', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'job-directory-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives each file its own name in the directory', () => {
    const names = Object.values(JOB_FILE_NAMES);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(
      Object.values(jobFiles('/data/jobs/x')),
      names.map((name) => `/data/jobs/x/${name}`),
    );
    assert.equal(jobFile('/data/jobs/x', 'outputLog'), '/data/jobs/x/output.log');
  });

  it('is the header jobshim was built with', () => {
    assert.equal(readFileSync(join(BUILD_DIR, 'job-directory.h'), 'utf8'), jobDirectoryHeader());
    assert.match(jobDirectoryHeader(), /^#define JOB_FILE_OUTPUT_INDEX "output\.idx"$/m);
    assert.match(
      jobDirectoryHeader(),
      /^#define JOB_FILE_PENDING_ENVIRONMENT "pending-env\.json"$/m,
    );
  });

  it("is spelled in jobshim's sources only through the header's macros", () => {
    const native = join(ROOT, 'native');
    const spelled = readdirSync(native)
      .filter((file) => /\.[ch]$/.test(file))
      .flatMap((file) => {
        const text = readFileSync(join(native, file), 'utf8');
        return Object.values(JOB_FILE_NAMES)
          .filter((name) => text.includes(`"${name}"`))
          .map((name) => `native/${file} spells "${name}"`);
      });
    assert.deepEqual(spelled, []);
  });

  it('holds only files it names once jobshim has run a job there', () => {
    const files = jobFiles(dir);
    const run = spawnSync(
      SHIM_PATH,
      ['--dir', dir, '--events', files.events, '--control', files.control, '--', '/bin/echo', 'hi'],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.match(run.stdout, /^started \d+ \d+\n$/);
    assert.equal(readFileSync(files.outputLog, 'utf8'), 'hi\n');
    assert.equal(readFileSync(files.outputIndex).length, 4);
    assert.equal(readFileSync(files.outputTimes).length, 16);
    assert.equal(readShimStatus(dir)?.reason, 'exited');
    const named = new Set<string>(Object.values(JOB_FILE_NAMES));
    assert.deepEqual(
      readdirSync(dir).filter((name) => !named.has(name)),
      [],
    );
  });
});
