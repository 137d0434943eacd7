// A start whose command cannot run tells its client why (issue 36): before the answer has begun,
// a 422 problem naming the command and the PATH it was looked up in (curl's view of the usual
// first mistake, a shell line as `command`); once it has begun (a followed job that waited in
// the queue), a `Job-Error` trailer and a last stderr line marked as the worker's.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { FrameDecoder, MULTIPLEXED_STREAM } from '../../src/contract/multiplexed-stream.ts';
import { DEFAULT_PATH } from '../../src/launcher/environment.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

describe('a command that cannot run', () => {
  let server: TestServer;
  before(async () => {
    // One running job a client: the followed job below waits in the queue behind a sleeper.
    server = await startServer({ env: { CLIENT_MAX_RUNNING: '1' } });
  });
  after(async () => {
    await server.dispose();
  });

  /** What Debian's curl prints: the body, then the status (`-w '%{http_code}'`). */
  async function curlStart(body: string, query = ''): Promise<{ status: string; body: string }> {
    const certs = server.certsDir;
    const { stdout } = await promisify(execFile)('curl', [
      '-sS',
      '-w',
      '%{http_code}',
      '--cacert',
      join(certs, 'ca.pem'),
      '--cert',
      join(certs, 'clients', 'alice', 'cert.pem'),
      '--key',
      join(certs, 'clients', 'alice', 'key.pem'),
      '-H',
      'content-type: application/json',
      '-d',
      body,
      `https://localhost:${server.port}/v1/jobs${query}`,
    ]);
    return { status: stdout.slice(-3), body: stdout.slice(0, -3) };
  }

  it('answers curl 422 COMMAND_NOT_FOUND naming the command and PATH, followed or not', async () => {
    for (const query of ['', '?follow=true']) {
      const answer = await curlStart('{"command":"echo hello world"}', query);
      assert.equal(answer.status, '422', `${query}: ${answer.body}`);
      const problem = JSON.parse(answer.body) as Record<string, unknown>;
      assert.equal(problem.code, 'COMMAND_NOT_FOUND');
      assert.equal(problem.detail, `command not found: echo hello world (PATH=${DEFAULT_PATH})`);
    }
    const listed = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>();
    assert.equal(listed.jobs.length, 0, 'nothing is recorded');
  });

  it("answers 422 COMMAND_CANNOT_RUN with the system's reason", async () => {
    const notExecutable = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: '/etc/passwd' },
    });
    assert.equal(notExecutable.status, 422);
    assert.equal(notExecutable.json().code, 'COMMAND_CANNOT_RUN');
    assert.equal(notExecutable.json().detail, 'cannot run /etc/passwd: Permission denied');
    const badCwd = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true', cwd: '/no/such/dir' },
    });
    assert.equal(badCwd.status, 422);
    assert.equal(badCwd.json().code, 'COMMAND_CANNOT_RUN');
    assert.equal(
      badCwd.json().detail,
      'cannot run true: cwd /no/such/dir: No such file or directory',
    );
  });

  it('ends a followed queued job with a Job-Error trailer and a last stderr line', async () => {
    const sleeper = await server.startJob('alice', { command: 'sleep', args: ['30'] });
    const followed = await server.open('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'no-such-program-36' },
      headers: { accept: MULTIPLEXED_STREAM },
    });
    assert.equal(followed.statusCode, 201, 'the answer began: the job was queued');
    assert.equal(followed.headers['job-queue-position'], '1');
    const stopped = await server.request('alice', 'POST', `/v1/jobs/${sleeper.id}/stop`);
    assert.equal(stopped.status, 202);
    const decoder = new FrameDecoder();
    const frames = [];
    for await (const chunk of followed) frames.push(...decoder.push(chunk as Buffer));
    const why = `command not found: no-such-program-36 (PATH=${DEFAULT_PATH})`;
    assert.deepEqual(
      frames.map((frame) => [frame.stream, frame.payload.toString()]),
      [['stderr', `jobworker: ${why}\n`]],
    );
    assert.equal(followed.trailers['job-status'], 'failed');
    assert.equal(followed.trailers['job-error'], why);
    const job = (
      await server.request('alice', 'GET', `/v1/jobs/${String(followed.headers['job-id'])}`)
    ).json<Job>();
    assert.equal(job.error, why);
  });

  it('says why a timed-out job ended, in Job-Error', async () => {
    const followed = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'sleep', args: ['30'], timeout: '1s' },
    });
    assert.equal(followed.trailers['job-status'], 'timedout');
    assert.equal(followed.trailers['job-error'], 'timed out after 1s (its timeout)');
    assert.match(followed.text(), /jobworker: timed out after 1s \(its timeout\)\n$/);
  });
});
