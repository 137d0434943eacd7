// Output is kept on disk and can be followed live by any number of readers who join at any
// moment; each gets exactly the bytes written, and the server's memory does not grow with them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

describe('output: many readers, one copy on disk', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('three readers joining at different moments get identical, complete 100 MB output', async () => {
    // seq is deterministic, so the expected bytes can be hashed here without keeping them.
    const count = 13_000_000;
    const { stdout } = await run('sh', ['-c', `seq 1 ${count} | sha256sum`]);
    const expected = stdout.split(' ')[0];
    const pid = server.child.pid!;
    const baseline = rssBytes(pid);
    let peak = baseline;

    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', `sleep 0.3; seq 1 ${count}`],
    });
    const follow = async (
      onBytes?: (bytes: number) => void,
    ): Promise<{ hash: string; bytes: number }> => {
      const response = await server.open('alice', 'GET', `/v1/jobs/${job.id}/output?follow=true`);
      assert.equal(response.statusCode, 200);
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of response) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        peak = Math.max(peak, rssBytes(pid));
        onBytes?.(bytes);
      }
      return { hash: hash.digest('hex'), bytes };
    };

    // The first reader joins before any output, the second once the first has read 10 MB,
    // the third after the job has ended.
    let joinSecond: () => void = () => undefined;
    const secondMayJoin = new Promise<void>((resolve) => (joinSecond = resolve));
    const first = follow((bytes) => {
      if (bytes >= 10_000_000) joinSecond();
    });
    const second = secondMayJoin.then(() => follow());
    const results = [await first, await second];
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.status, 'exited');
    results.push(await follow());

    for (const result of results) {
      assert.equal(result.hash, expected);
      assert.equal(result.bytes, ended.outputBytes);
    }
    // Three readers of 100 MB: buffering the output would cost 300 MB. What is allowed here is
    // less than one copy: garbage-collector slack, not memory proportional to the output.
    const growth = peak - baseline;
    assert.ok(growth < 96 * 1024 * 1024, `server RSS grew by ${Math.round(growth / 1048576)} MiB`);
  });

  it('a reader that disconnects mid-stream releases its resources and the job carries on', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'yes | head -c 50000000; sleep 0.5; echo done'],
    });
    const response = await server.open('alice', 'GET', `/v1/jobs/${job.id}/output?follow=true`);
    await new Promise<void>((resolve) => response.once('data', () => resolve()));
    response.destroy();
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.status, 'exited');
    const tail = await server.request(
      'alice',
      'GET',
      `/v1/jobs/${job.id}/output?offset=${ended.outputBytes - 5}`,
    );
    assert.equal(tail.text(), 'done\n');
  });

  it('follows stdout alone live', async () => {
    const response = await server.request('alice', 'POST', '/v1/jobs', {
      json: {
        command: 'sh',
        args: ['-c', 'for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.1; done'],
      },
    });
    const id = response.json<{ id: string }>().id;
    const stdout = await server.request(
      'alice',
      'GET',
      `/v1/jobs/${id}/output?follow=true&stream=stdout`,
    );
    assert.equal(stdout.text(), 'out1\nout2\nout3\n');
  });
});
