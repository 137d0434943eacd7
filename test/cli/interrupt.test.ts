// Ctrl-C on a following jobctl (SIGINT to the jobctl process, as a terminal sends it): `logs -f`
// only watches, so any number of them leave the job running; for `run -f` the first detaches and
// leaves the job running, a second within a second stops it, and --stop-on-interrupt stops it at
// once. Each step waits for what jobctl prints, never for time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';
import { jobctlFor, type Jobctl } from './jobctl-process.ts';

const TICKING = { command: 'sh', args: ['-c', 'while :; do echo tick; sleep 0.1; done'] };

describe('jobctl and Ctrl-C', () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let dispose: () => Promise<void>;

  before(async () => {
    server = await startServer();
    ({ jobctl, dispose } = await jobctlFor(server));
  });
  after(async () => {
    await dispose();
    await server.dispose();
  });

  const statusOf = async (id: string): Promise<string> =>
    (await server.request('alice', 'GET', `/v1/jobs/${id}`)).json<Job>().status;

  it('logs -f: Ctrl-C stops watching, says so, exits 130 and leaves the job running', async () => {
    const { id } = await server.startJob('alice', TICKING);
    const logs = jobctl.spawn('logs', '-f', id);
    await logs.waitForStdout(/tick\n/);
    logs.child.kill('SIGINT');
    const result = await logs.exited;
    assert.equal(result.code, 130);
    assert.match(
      result.stderr,
      new RegExp(`^jobctl: stopped watching job ${id}; it keeps running`),
    );
    assert.equal(await statusOf(id), 'running');
    await server.request('alice', 'POST', `/v1/jobs/${id}/stop`);
  });

  it('run -f: a second Ctrl-C within a second stops the job', async () => {
    const run = jobctl.spawn('run', '-f', '--', TICKING.command, ...TICKING.args);
    await run.waitForStdout(/tick\n/);
    run.child.kill('SIGINT');
    await run.waitForStderr(/press Ctrl-C again/);
    run.child.kill('SIGINT');
    const result = await run.exited;
    const id = /stop job ([0-9a-f-]{36})/.exec(result.stderr)?.[1];
    assert.ok(id !== undefined, result.stderr);
    assert.match(result.stderr, new RegExp(`\\njobctl: stopping job ${id}`));
    assert.equal((await server.waitForEnd('alice', id)).status, 'stopped');
  });

  it('run -f: Ctrl-C detaches from the job it started, which keeps running', async () => {
    const run = jobctl.spawn('run', '-f', '--', TICKING.command, ...TICKING.args);
    await run.waitForStdout(/tick\n/);
    run.child.kill('SIGINT');
    const result = await run.exited;
    assert.equal(result.code, 130);
    const id = /detached from job ([0-9a-f-]{36})/.exec(result.stderr)?.[1];
    assert.ok(id !== undefined, result.stderr);
    assert.equal(await statusOf(id), 'running');
    await server.request('alice', 'POST', `/v1/jobs/${id}/stop`);
  });

  it('run -f --stop-on-interrupt: Ctrl-C stops the job, and jobctl exits with its status', async () => {
    const run = jobctl.spawn(
      'run',
      '-f',
      '--stop-on-interrupt',
      '--',
      'sh',
      '-c',
      'trap "echo caught TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done',
    );
    await run.waitForStdout(/ready\n/);
    run.child.kill('SIGINT');
    const result = await run.exited;
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stdout, /caught TERM\n$/);
    assert.match(result.stderr, /^jobctl: stopping job [0-9a-f-]{36}/);
    assert.doesNotMatch(result.stderr, /detached/);
  });
});
