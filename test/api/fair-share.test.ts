// One client cannot take the server from the others: it holds at most its budget of connections
// and of output streams, and the last tenth of the server's connections is kept for admins and
// light clients. Every request of another client succeeds throughout.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect, type TLSSocket } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

describe('fair share between clients', () => {
  let server: TestServer;
  const sockets: TLSSocket[] = [];
  before(async () => {
    server = await startServer({
      env: { CLIENT_CONNECTIONS: '24', CLIENT_FOLLOWERS: '8', MAX_CONNECTIONS: '40' },
    });
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await server.dispose();
  });

  /** Opens `count` TLS connections as `client` and resolves once every handshake is done. */
  async function openConnections(client: string, count: number): Promise<TLSSocket[]> {
    const opened = await Promise.all(
      Array.from({ length: count }, async () => {
        const socket = connect({
          host: '127.0.0.1',
          port: server.port,
          servername: 'localhost',
          ...server.credentials(client),
        });
        sockets.push(socket);
        await once(socket, 'secureConnect');
        return socket;
      }),
    );
    return opened;
  }

  /** A request on an already open connection: its status, or 0 if the server closed it. */
  function healthOn(socket: TLSSocket): Promise<number> {
    if (socket.destroyed) return Promise.resolve(0);
    return new Promise((resolve) => {
      socket.once('data', (data: Buffer) =>
        resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data.toString())?.[1])),
      );
      socket.once('close', () => resolve(0));
      socket.once('error', () => resolve(0));
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    });
  }

  it("closes a client's connections past its budget, and others still get in", async () => {
    const alice = await openConnections('alice', 30);
    // The six past her budget of 24 are closed right after their handshakes.
    const statuses = await Promise.all(alice.map(healthOn));
    assert.equal(statuses.filter((status) => status === 200).length, 24);
    assert.equal(statuses.filter((status) => status === 0).length, 6);
    assert.ok(
      server.logs.some(
        (entry) =>
          entry.msg === 'connection refused: over the client connection budget' &&
          entry.client === 'alice',
      ),
    );

    // bob, admin and auditor are served while alice holds all she may.
    assert.equal((await server.request('bob', 'GET', '/healthz')).status, 200);
    assert.equal((await server.request('admin', 'GET', '/healthz')).status, 200);
    const job = await server.startJob('bob', { command: 'true' });
    assert.equal((await server.waitForEnd('bob', job.id)).status, 'exited');
    for (const socket of alice.slice(0, 12)) socket.destroy();
  });

  it('keeps the last tenth of the connections for admins and light clients', async () => {
    // alice still holds 12, and the helpers a few keep-alive connections: bob's 24 bring the
    // server past 36, its cap less the reserve of 4; from there bob, a busy client, is refused.
    const bob = await openConnections('bob', 24);
    const statuses = await Promise.all(bob.map(healthOn));
    const refused = statuses.filter((status) => status === 0).length;
    assert.ok(refused >= 1 && refused <= 12, `${refused} of bob's refused`);
    assert.equal((await server.request('admin', 'GET', '/healthz')).status, 200);
    assert.equal((await server.request('auditor', 'GET', '/healthz')).status, 200);
    for (const socket of [...sockets]) socket.destroy();
  });

  it("answers 429 past a client's budget of output streams; another client's are its own", async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'echo started; sleep 60'],
    });
    const follow = (client: string): Promise<IncomingMessage> =>
      server.open(client, 'GET', `/v1/jobs/${job.id}/output?follow=true`);
    const answers = await Promise.all(Array.from({ length: 10 }, () => follow('alice')));
    const open = answers.filter((answer) => answer.statusCode === 200);
    const refused = answers.filter((answer) => answer.statusCode === 429);
    assert.equal(open.length, 8);
    assert.equal(refused.length, 2);
    const problem = JSON.parse(
      await new Promise<string>((resolve) => {
        let text = '';
        refused[0]!.on('data', (chunk: Buffer) => (text += chunk.toString()));
        refused[0]!.on('end', () => resolve(text));
      }),
    ) as { code: string };
    assert.equal(problem.code, 'TOO_MANY_FOLLOWERS');
    assert.equal(refused[0]!.headers['retry-after'], '1');
    refused[1]!.resume();
    // A follow-and-run is refused before it starts anything.
    const run = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'true' },
    });
    assert.equal(run.status, 429);
    // A refused follow-and-run gives its stream back: bob's bad requests cost him nothing.
    for (let i = 0; i < 10; i++) {
      const bad = await server.request('bob', 'POST', '/v1/jobs?follow=true', {
        json: { command: '' },
      });
      assert.equal(bad.status, 400);
    }
    // bob's budget is his own (admin sees alice's job; bob runs his own).
    assert.equal((await server.request('admin', 'GET', `/v1/jobs/${job.id}/output`)).status, 200);
    const bobs = await server.request('bob', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'echo', args: ['mine'] },
    });
    assert.equal(bobs.text(), 'mine\n');

    for (const answer of open) answer.destroy();
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    // Her streams are given back as they close; Retry-After says when to try again.
    let again = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    if (again.status === 429) {
      await delay(Number(again.headers['retry-after']) * 1000);
      again = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    }
    assert.equal(again.status, 200);
  });
});
