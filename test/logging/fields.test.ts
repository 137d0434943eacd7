// The same fields under the same names on every line about a request or a job (docs/logging.md):
// a jobctl command's requests share one W3C trace id (or the one in TRACEPARENT), the audit
// trail carries it with the request id, and a person at a terminal reads lines, not JSON.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ROOT, startServer, type TestServer } from '../helpers/server.ts';
import { jobctlFor, type Jobctl } from '../cli/jobctl-process.ts';

describe('correlation fields', () => {
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

  it("follows one jobctl command through the server's log and audit trail by its trace id", async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const since = server.logs.length;
    const result = await jobctl
      .with({ TRACEPARENT: `00-${traceId}-b7ad6b7169203331-01` })
      .run('run', '--wait', '--', 'echo', 'traced');
    assert.equal(result.code, 0, result.stderr);
    const requests = (await server.logsSettled(since)).filter(
      (entry) => entry.msg === 'request' && entry.traceId === traceId,
    );
    // The start, the wait for the job's end and the final record: all of one trace.
    assert.equal(requests.length, 3, JSON.stringify(requests));
    for (const entry of requests) {
      assert.equal(entry.client, 'alice');
      assert.equal(entry.role, 'user');
      assert.equal(typeof entry.requestId, 'string');
    }
    const jobId = requests.find((entry) => entry.route === '/v1/jobs')?.jobId;
    assert.equal(typeof jobId, 'string');
    const trail = await server.request('auditor', 'GET', `/v1/audit?job=${String(jobId)}`);
    const start = trail
      .json<{ records: { action: string; traceId?: string; requestId?: string }[] }>()
      .records.find((record) => record.action === 'job.start');
    assert.equal(start?.traceId, traceId);
    assert.ok(requests.some((entry) => entry.requestId === start?.requestId));
    // The job's own lines name it and its client under the same names.
    const transitions = server.logs.filter(
      (entry) => entry.msg === 'job transition' && entry.jobId === jobId,
    );
    assert.ok(transitions.length > 0);
    for (const entry of transitions) assert.equal(entry.client, 'alice');
  });

  it('gives every jobctl command a trace of its own, and a request without one a new one', async () => {
    const since = server.logs.length;
    await jobctl.run('ps');
    await jobctl.run('ps');
    const ids: unknown[] = [];
    await server.waitForLog((entry) => {
      if (entry.msg === 'request' && entry.route === '/v1/jobs') ids.push(entry.traceId);
      return ids.length === 2;
    }, since);
    assert.equal(new Set(ids).size, 2, JSON.stringify(ids));
    const plain = server.logs.length;
    await server.request('alice', 'GET', '/healthz', {
      headers: { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' },
    });
    // (A request's line is written when its connection has finished with it.)
    const line = await server.waitForLog(
      (entry) => entry.msg === 'request' && entry.route === '/healthz',
      plain,
    );
    // An all-zero trace id is invalid (W3C): ignored, and a new one made.
    assert.match(String(line?.traceId), /^[0-9a-f]{32}$/);
    assert.notEqual(line?.traceId, '00000000000000000000000000000000');
  });
});

describe('logs for a person at a terminal', () => {
  let baseDir: string;
  before(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'jobworker-pretty-'));
  });
  after(async () => {
    await rm(baseDir, { recursive: true, force: true });
  });

  it('prints readable lines, not JSON, when stdout is a terminal', async () => {
    // `script` gives the server a terminal for its stdout, as a person's shell would.
    const server = `"${process.execPath}" src/server.ts --port 0 --data-dir ${baseDir}/data --certs-dir ${baseDir}/certs`;
    const child = spawn('script', ['-qfec', server, '/dev/null'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let shown = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        shown += chunk.toString('utf8');
        if (/listening/.test(shown)) resolve();
      });
      child.once('exit', () => reject(new Error(`the server exited: ${shown}`)));
    }).finally(() => child.removeAllListeners('exit'));
    // Ctrl-C on its terminal, as a person stops it.
    child.stdin.write('\u0003');
    await new Promise((resolve) => child.once('exit', resolve));
    const plain = stripVTControlCharacters(shown);
    assert.match(plain, /INFO.*listening/);
    assert.doesNotMatch(plain, /"level":/);
  });
});
