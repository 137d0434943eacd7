// The process and output steps alone: the supervisor's arguments derived from the job's spec
// (its directory, input, stderr, terminal and timeout) and from its output's limits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputStep } from '../../src/launcher/steps/output-step.ts';
import { ProcessStep } from '../../src/launcher/steps/process-step.ts';
import { launchRequest } from '../helpers/launch-request.ts';

describe('the process step', () => {
  it('tells the supervisor only the directory of a job that asks for nothing else', async () => {
    const setup = await new ProcessStep().prepare(launchRequest({ cwd: '/srv' }));
    assert.deepEqual(setup.args, ['--cwd', '/srv']);
  });

  it("passes the job's input FIFO, merged stderr, terminal and timeout, in the job directory", async () => {
    const request = launchRequest(
      {
        cwd: '/work',
        stdin: true,
        stderr: 'merged',
        tty: { rows: 40, cols: 120 },
        timeoutMs: 30_000,
      },
      { dir: '/data/jobs/abc' },
    );
    assert.deepEqual((await new ProcessStep().prepare(request)).args, [
      '--cwd',
      '/work',
      '--stdin',
      '/data/jobs/abc/stdin.fifo',
      '--merge-stderr',
      '--tty',
      '--tty-rows',
      '40',
      '--tty-cols',
      '120',
      '--timeout',
      '30000',
    ]);
  });
});

describe('the output step', () => {
  it('caps the recorded output and keeps the disk floor when there are such limits', async () => {
    const step = new OutputStep();
    assert.deepEqual((await step.prepare(launchRequest())).args, []);
    const limited = launchRequest({}, { maxOutputBytes: 1024 ** 2, minFreeDiskBytes: 64 });
    assert.deepEqual((await step.prepare(limited)).args, [
      '--max-output',
      '1048576',
      '--min-free-disk',
      '64',
    ]);
    // A spent budget is a cap of nothing, not no cap.
    const spent = launchRequest({}, { maxOutputBytes: 0 });
    assert.deepEqual((await step.prepare(spent)).args, ['--max-output', '0']);
  });
});
