// A job's life through the API, as a user sees it: start, inspect, read output, stop, delete.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

describe('job lifecycle over mutual TLS', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('runs a command and records its exit code, output and timestamps', async () => {
    const started = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'sh', args: ['-c', 'echo out; echo err >&2; exit 3'] },
    });
    assert.equal(started.status, 201);
    const job = started.json<Job>();
    assert.equal(started.headers.location, `/v1/jobs/${job.id}`);
    assert.match(job.id, /^[0-9a-f-]{36}$/);
    assert.equal(job.owner, 'alice');
    assert.equal(job.command, 'sh');
    assert.deepEqual(job.args, ['-c', 'echo out; echo err >&2; exit 3']);
    assert.ok(['running', 'exited'].includes(job.status));

    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.status, 'exited');
    assert.equal(ended.exitCode, 3);
    assert.equal(ended.signal, null);
    assert.ok(Date.parse(ended.createdAt) <= Date.parse(ended.startedAt!));
    assert.ok(Date.parse(ended.startedAt!) <= Date.parse(ended.endedAt!));

    const all = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    assert.equal(all.status, 200);
    assert.equal(all.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(all.text().split('\n').sort(), ['', 'err', 'out']);
    const stdout = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output?stream=stdout`);
    assert.equal(stdout.text(), 'out\n');
    const stderr = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output?stream=stderr`);
    assert.equal(stderr.text(), 'err\n');
    const fromOffset = await server.request(
      'alice',
      'GET',
      `/v1/jobs/${job.id}/output?stream=stdout&offset=2`,
    );
    assert.equal(fromOffset.text(), 't\n');
  });

  it('keeps its database and job files private to the server', async () => {
    await server.startJob('alice', { command: 'true' });
    assert.equal(statSync(server.dataDir).mode & 0o777, 0o700);
    for (const file of readdirSync(server.dataDir).filter((name) =>
      name.startsWith('jobworker.db'),
    ))
      assert.equal(statSync(join(server.dataDir, file)).mode & 0o777, 0o600, file);
  });

  it('keeps stdout and stderr in the order they were written', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: [
        '-c',
        'for i in 1 2 3 4 5; do echo "o$i"; sleep 0.05; echo "e$i" >&2; sleep 0.05; done',
      ],
    });
    await server.waitForEnd('alice', job.id);
    const output = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    assert.equal(output.text(), 'o1\ne1\no2\ne2\no3\ne3\no4\ne4\no5\ne5\n');
  });

  it('refuses a command that cannot start, with the reason', async () => {
    const refused = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'definitely-not-a-command' },
    });
    assert.equal(refused.status, 422);
    assert.equal(refused.json().code, 'COMMAND_NOT_FOUND');
    assert.match(String(refused.json().detail), /^command not found: definitely-not-a-command /);
  });

  it('gives a job only the environment it asked for, on top of a minimal base', async () => {
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'env', env: { GREETING: 'hello world' } },
    });
    const variables = response.text().trim().split('\n').sort();
    assert.ok(variables.includes('GREETING=hello world'));
    const names = variables.map((line) => line.split('=')[0]);
    assert.deepEqual(names, ['GREETING', 'HOME', 'LANG', 'LOGNAME', 'PATH', 'USER']);
    const job = (await server.request('alice', 'GET', response.headers.location!)).json<Job>();
    assert.deepEqual(job.envNames, ['GREETING'], 'names are recorded, values are not');
  });

  it('starts a job with no signal ignored or blocked, whatever started its supervisor', async () => {
    // Ignored signals survive exec: one the server, the spawner or glibc's posix_spawn ignores
    // would break a job's own handling of it (a pipeline that should end on SIGPIPE, say).
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'grep', args: ['-E', '^Sig(Ign|Blk):', '/proc/self/status'] },
    });
    assert.equal(response.text(), 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('runs in the requested working directory', async () => {
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'pwd', cwd: '/tmp' },
    });
    assert.equal(response.text(), '/tmp\n');
  });

  it('streams a job started with ?follow=true and ends with its status in trailers', async () => {
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'sh', args: ['-c', 'echo one; sleep 0.2; echo two; exit 7'] },
    });
    assert.equal(response.status, 201);
    assert.match(response.headers.location ?? '', /^\/v1\/jobs\/[0-9a-f-]{36}$/);
    assert.equal(response.text(), 'one\ntwo\n');
    assert.equal(response.trailers['job-status'], 'exited');
    assert.equal(response.trailers['job-exit-code'], '7');
  });

  it('stops a running job: 202 while stopping, idempotent, then stopped with the signal', async () => {
    const job = await server.startJob('alice', { command: 'sleep', args: ['600'] });
    assert.equal(job.status, 'running');
    const first = await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    assert.equal(first.status, 202);
    assert.equal(first.json<Job>().status, 'stopping');
    const second = await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    assert.ok([202, 409].includes(second.status), 'a second stop is accepted while stopping');
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.status, 'stopped');
    assert.equal(ended.signal, 'SIGTERM');
    const again = await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    assert.equal(again.status, 409);
    assert.equal(again.json().code, 'JOB_ALREADY_ENDED');
  });

  it('lists jobs newest first and filters by status', async () => {
    const first = await server.startJob('alice', { command: 'true' });
    const second = await server.startJob('alice', { command: 'true' });
    await server.waitForEnd('alice', second.id);
    const list = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>().jobs;
    const ids = list.map((job) => job.id);
    assert.ok(ids.indexOf(second.id) < ids.indexOf(first.id));
    const running = (await server.request('alice', 'GET', '/v1/jobs?status=running')).json<{
      jobs: Job[];
    }>();
    assert.ok(running.jobs.every((job) => job.status === 'running'));
  });

  it('deletes an ended job and its output, but not a running one', async () => {
    const running = await server.startJob('alice', { command: 'sleep', args: ['600'] });
    const refused = await server.request('alice', 'DELETE', `/v1/jobs/${running.id}`);
    assert.equal(refused.status, 409);
    assert.equal(refused.json().code, 'JOB_STILL_RUNNING');
    await server.request('alice', 'POST', `/v1/jobs/${running.id}/stop`);
    await server.waitForEnd('alice', running.id);
    const deleted = await server.request('alice', 'DELETE', `/v1/jobs/${running.id}`);
    assert.equal(deleted.status, 204);
    assert.equal((await server.request('alice', 'GET', `/v1/jobs/${running.id}`)).status, 404);
  });

  it('answers /healthz for any authenticated client with the active protections', async () => {
    for (const client of ['admin', 'alice', 'auditor']) {
      const health = await server.request(client, 'GET', '/healthz');
      assert.equal(health.status, 200);
      const body = health.json<{
        status: string;
        client: { name: string };
        protections: unknown;
      }>();
      assert.equal(body.status, 'ok');
      assert.equal(body.client.name, client);
      assert.ok(body.protections);
    }
  });

  it('logs one structured line per request without secrets or output', async () => {
    const job = await server.startJob('alice', {
      command: 'echo',
      args: ['top-secret-output'],
      env: { TOKEN: 'hunter2' },
    });
    await server.waitForEnd('alice', job.id);
    const requestLine = server.logs.find(
      (line) => line.msg === 'request' && line.method === 'POST',
    );
    assert.ok(requestLine);
    for (const key of ['requestId', 'client', 'role', 'method', 'route', 'status', 'durationMs']) {
      assert.ok(key in requestLine, `request log has ${key}`);
    }
    const transitions = server.logs.filter(
      (line) => line.msg === 'job transition' && line.jobId === job.id,
    );
    assert.deepEqual(
      transitions.map((line) => line.to),
      ['running', 'exited'],
    );
    const everything = JSON.stringify(server.logs);
    assert.ok(!everything.includes('top-secret-output'));
    assert.ok(!everything.includes('hunter2'));
    assert.ok(!everything.includes('PRIVATE KEY'));
  });
});
