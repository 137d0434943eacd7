// One client's jobs are contained together: a parent cgroup per client holds the processes,
// memory and CPU of all of its running jobs, and a budget bounds the output kept for all of its
// jobs. Tried as a hostile client would: two jobs whose limits each fit but together do not.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { runCerts } from '../helpers/certs-script.ts';
import { startServer, type Job, type Response, type TestServer } from '../helpers/server.ts';

/** How many processes of the host run as `uid`. */
function processesOf(uid: number): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status)) count += 1;
    } catch {
      // it ended while we looked
    }
  }
  return count;
}

describe("per-client totals across all of a client's jobs", () => {
  let server: TestServer;
  let enforceable: string[] = [];
  // Clients of their own: a client's group is the host's (one server per host), so other test
  // files' servers must not hold processes or output in the groups these totals are tried on.
  const run = randomUUID().slice(0, 8);
  const bob = `bob-${run}`;
  const alice = `alice-${run}`;
  before(async () => {
    server = await startServer({
      env: { CLIENT_PIDS: '40', CLIENT_MEMORY: '256MiB', CLIENT_OUTPUT: '3MiB' },
    });
    for (const name of [alice, bob]) {
      const issued = await runCerts(server.certsDir, ['client', name, '--role', 'user']);
      assert.equal(issued.code, 0, issued.stderr);
    }
    const health = await server.request('admin', 'GET', '/healthz');
    enforceable = health.json<{ protections: { enforceableLimits: string[] } }>().protections
      .enforceableLimits;
  });
  after(async () => {
    await server.dispose();
  });

  it("refuses one job asking for more than its client's total, naming the total", async () => {
    const response = await server.request(bob, 'POST', '/v1/jobs', {
      json: { command: 'true', limits: { pids: 41 } },
    });
    assert.equal(response.status, 400);
    const problem = response.json<{ code: string; detail: string }>();
    assert.equal(problem.code, 'LIMIT_EXCEEDS_CLIENT_TOTAL');
    assert.match(problem.detail, /exceeds 40, the total/);
    // The default (512 MiB) is above this client's memory total: the job gets the total instead.
    const job = await server.startJob(bob, { command: 'true' });
    assert.equal((job.limits as { memoryBytes?: number }).memoryBytes, 256 * 1024 ** 2);
  });

  it('holds two jobs whose process limits together exceed the total to the total', async (t) => {
    if (!enforceable.includes('pids')) return t.skip('the host cannot enforce pids limits');
    // Keeps going when a fork fails (a shell would exit), so each job holds all it can get.
    const spawner = {
      command: 'python3',
      args: [
        '-c',
        [
          'import subprocess, time',
          'kids = []',
          'for i in range(60):',
          '    try: kids.append(subprocess.Popen(["sleep", "60"]))',
          '    except OSError: pass',
          'print("spawned", len(kids), flush=True)',
          'time.sleep(60)',
        ].join('\n'),
      ],
      // Two at once within bob's 256 MiB: each job reserves its memory limit, and a job without
      // one the whole total (the default is more), so a second would wait for the first.
      limits: { pids: 32, memory: '100MiB' },
    };
    // Asked first: once the spawners hold every process bob may have, `id` could not start.
    const uid = Number(
      /uid=(\d+)/.exec(
        (
          await server.request(bob, 'POST', '/v1/jobs?follow=true', { json: { command: 'id' } })
        ).text(),
      )?.[1],
    );
    assert.ok(uid > 0, "the uid of bob's jobs");
    const first = await server.startJob(bob, spawner);
    const second = await server.startJob(bob, spawner);
    try {
      for (const job of [first, second]) {
        const output = await server.open(bob, 'GET', `/v1/jobs/${job.id}/output?follow=true`);
        let text = '';
        for await (const chunk of output) {
          text += (chunk as Buffer).toString();
          if (text.includes('spawned')) break;
        }
        output.destroy();
      }
      const held = processesOf(uid);
      assert.ok(held <= 40, `bob's jobs hold ${held} processes`);
      assert.ok(held > 32, `more than one job's cap (${held}), so both jobs count towards it`);
    } finally {
      // Stopped whatever happened: held processes would starve bob's jobs in the next test.
      for (const job of [first, second]) {
        await server.request(bob, 'POST', `/v1/jobs/${job.id}/stop`);
        await server.waitForEnd(bob, job.id);
      }
    }
  });

  it('drops output past the client output budget, and the job says so', async () => {
    const write = (bytes: number): Record<string, unknown> => ({
      command: 'head',
      args: ['-c', String(bytes), '/dev/zero'],
    });
    const first = await server.startJob(alice, write(2 * 1024 ** 2));
    const firstEnded = await server.waitForEnd(alice, first.id);
    assert.equal(firstEnded.outputBytes, 2 * 1024 ** 2);
    assert.equal(firstEnded.outputTruncated, false);

    // What is left of the 3 MiB budget less the reserve kept for her other running slots (a
    // quarter of it), but at least the floor: 768 KiB, a quarter of this small budget.
    const second = await server.startJob(alice, write(2 * 1024 ** 2));
    const cap = second.outputCapBytes ?? 0;
    assert.equal(cap, 768 * 1024);
    const secondEnded = await server.waitForEnd(alice, second.id);
    assert.ok(secondEnded.outputBytes <= cap, `${secondEnded.outputBytes} bytes kept`);
    assert.equal(secondEnded.outputTruncated, true);

    // Jobs keep what is left until her ended jobs keep the whole budget; then a new job is
    // refused, naming the budget, instead of running with nothing kept.
    let refused: Response | undefined;
    for (let attempt = 0; attempt < 3 && refused === undefined; attempt++) {
      const response = await server.request(alice, 'POST', '/v1/jobs', {
        json: write(2 * 1024 ** 2),
      });
      if (response.status === 201) await server.waitForEnd(alice, response.json<Job>().id);
      else refused = response;
    }
    assert.equal(refused?.status, 507, refused?.text());
    assert.equal(refused.json().code, 'OUTPUT_BUDGET_SPENT');
    assert.match(String(refused.json().detail), /output budget \(3 MiB\) is spent/);
    const listed = await server.request(alice, 'GET', '/v1/jobs');
    const kept = listed.json<{ jobs: Job[] }>().jobs.reduce((sum, job) => sum + job.outputBytes, 0);
    assert.ok(kept <= 3 * 1024 ** 2, `${kept} bytes kept`);

    // Another client's budget is its own; deleting output gives the budget back.
    const bobs = await server.startJob(bob, write(10));
    assert.equal((await server.waitForEnd(bob, bobs.id)).outputBytes, 10);
    await server.request(alice, 'DELETE', `/v1/jobs/${first.id}`);
    const fourth = await server.startJob(alice, write(10));
    const fourthEnded: Job = await server.waitForEnd(alice, fourth.id);
    assert.equal(fourthEnded.outputBytes, 10);
  });
});
