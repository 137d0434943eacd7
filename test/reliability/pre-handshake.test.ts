// Connections that have not finished a TLS handshake, as a hostile peer without a certificate
// makes them: thousands that never send a ClientHello, from the clients' own address, cannot
// lock an admin or another client out, and their refusals are summarised in the audit instead of
// one signed record each (issue 31, findings 1 and 5). A connection that has sent its ClientHello
// is never dropped to make room for one that has sent nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';
import { SilentFlood } from '../helpers/silent-flood.ts';

/** The flood: silent connections, each reopened this long after it closes. */
const FLOOD = { connections: 4500, reopenMs: 50, durationMs: 25_000 } as const;
/** The probes: a new connection each this often, each answered within the limit. */
const PROBE = { everyMs: 1500, limitMs: 3000 } as const;
/** "At most a few hundred audit records" for the whole flood. */
const MAX_FLOOD_RECORDS = 300;

/** The soft limit on open files of this process, as /proc/self/limits says it. */
function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3]);
}

/**
 * The flood needs a file descriptor per connection. Node raises its soft limit to the hard one
 * when it starts; as root the hard one can be raised too (prlimit), which the server started
 * after inherits.
 */
function ensureOpenFiles(needed: number): void {
  if (openFileLimit() >= needed) return;
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${needed}:${needed}`]);
  assert.ok(
    openFileLimit() >= needed,
    `the flood needs ${needed} open files; this process may open ${openFileLimit()}`,
  );
}

/** GET /healthz on a connection of its own: the status, or what went wrong, and how long. */
function probe(server: TestServer, client: string): Promise<{ outcome: string; ms: number }> {
  const started = performance.now();
  const done = (outcome: string): { outcome: string; ms: number } => ({
    outcome,
    ms: Math.round(performance.now() - started),
  });
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path: '/healthz',
        servername: 'localhost',
        agent: false,
        signal: AbortSignal.timeout(PROBE.limitMs),
        ...server.credentials(client),
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve(done(String(response.statusCode))));
        response.once('error', (error: NodeJS.ErrnoException) =>
          resolve(done(error.code ?? 'error')),
        );
      },
    );
    req.once('error', (error: NodeJS.ErrnoException) => resolve(done(error.code ?? error.name)));
    req.end();
  });
}

/** The sum of a Prometheus counter over all its labels. */
async function counterTotal(server: TestServer, name: string): Promise<number> {
  const text = (await server.request('admin', 'GET', '/metrics')).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

interface AuditPayload {
  readonly seq: number;
  readonly action: string;
  readonly details: Record<string, unknown>;
}

/** The records of the server's audit log file, decoded (their signatures are checked elsewhere). */
function auditRecords(server: TestServer): AuditPayload[] {
  return readFileSync(join(server.dataDir, 'audit.log'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const payload = line.split('.')[1] ?? '';
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AuditPayload;
    });
}

/**
 * A TLS client whose ClientHello goes out at once but which hears nothing back until `release`:
 * its handshake is pending at the server, having sent its ClientHello, for as long as the test
 * likes. `answered` resolves once the server's first answer (its ServerHello) has come and been
 * held back, which proves the server read the ClientHello.
 */
function heldHandshake(
  server: TestServer,
  client: string,
): { answered: Promise<void>; release: () => Promise<TLSSocket>; close: () => void } {
  const tcp = connect({ host: '127.0.0.1', port: server.port });
  tcp.on('error', () => {});
  const held: Buffer[] = [];
  let holding = true;
  let answered!: () => void;
  const answeredPromise = new Promise<void>((resolve) => (answered = resolve));
  // A stream between the TLS client and the TCP socket that holds the server's bytes back.
  const gate: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      tcp.write(chunk, callback);
    },
    final(callback) {
      tcp.end(callback);
    },
    destroy(error, callback) {
      tcp.destroy();
      callback(error);
    },
  });
  tcp.on('data', (chunk: Buffer) => {
    if (!holding) return void gate.push(chunk);
    held.push(chunk);
    answered();
  });
  tcp.on('end', () => gate.push(null));
  tcp.on('close', () => gate.destroy());
  const tls = tlsConnect({ socket: gate, servername: 'localhost', ...server.credentials(client) });
  tls.on('error', () => {});
  const secure = new Promise<TLSSocket>((resolve, reject) => {
    tls.once('secureConnect', () => resolve(tls));
    tls.once('close', () => reject(new Error('closed before its handshake completed')));
  });
  secure.catch(() => {});
  return {
    answered: answeredPromise,
    release: () => {
      holding = false;
      for (const chunk of held.splice(0)) gate.push(chunk);
      return secure;
    },
    close: () => {
      tls.destroy();
      tcp.destroy();
    },
  };
}

/** An HTTP/1.1 GET /healthz over an established TLS connection; resolves with the status line. */
async function healthzOver(socket: TLSSocket): Promise<string> {
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return chunk.toString('latin1').split('\r\n')[0] ?? '';
}

/** Resolves once `count` of the sockets have been closed (by the server: the test holds them). */
function closedCount(sockets: readonly Socket[], count: number): Promise<void> {
  let closed = 0;
  return new Promise((resolve) => {
    if (count <= 0) resolve();
    for (const socket of sockets) {
      socket.once('close', () => {
        closed += 1;
        if (closed === count) resolve();
      });
    }
  });
}

function silentSockets(server: TestServer, count: number): Socket[] {
  return Array.from({ length: count }, () => {
    const socket = connect({ host: '127.0.0.1', port: server.port });
    socket.on('error', () => {});
    return socket;
  });
}

describe('before the handshake', () => {
  /** The defaults, as a deployment has them: the flood's target. */
  let flooded: TestServer;
  /** Eight places for handshakes, to fill them with a handful of connections. */
  let small: TestServer;
  before(async () => {
    ensureOpenFiles(FLOOD.connections + 2000);
    [flooded, small] = await Promise.all([
      startServer(),
      startServer({ args: ['--max-handshakes', '8', '--address-handshakes', '8'] }),
    ]);
  });
  after(async () => {
    await Promise.all([flooded.dispose(), small.dispose()]);
  });

  it('completes a handshake that sent its ClientHello while silent ones come and go past the cap', async () => {
    const hello = heldHandshake(small, 'alice');
    await hello.answered;
    // Five times the cap of silent connections: the server drops the oldest silent ones to make
    // room for the newer, and never the one that sent its ClientHello.
    const silent = silentSockets(small, 40);
    await closedCount(silent, 40 - 8);
    const socket = await hello.release();
    assert.match(await healthzOver(socket), /^HTTP\/1\.1 200 /);
    // A new client is served too: it gets a place, the silent ones do not keep it out.
    assert.equal((await probe(small, 'bob')).outcome, '200');
    hello.close();
    for (const socket of silent) socket.destroy();
  });

  it('keeps a newcomer out when every pending handshake has sent its ClientHello', async () => {
    const hellos = Array.from({ length: 8 }, () => heldHandshake(small, 'alice'));
    await Promise.all(hellos.map((hello) => hello.answered));
    const [newcomer] = silentSockets(small, 1);
    await once(newcomer!, 'close');
    const sockets = await Promise.all(hellos.map((hello) => hello.release()));
    for (const socket of sockets) assert.match(await healthzOver(socket), /^HTTP\/1\.1 200 /);
    for (const hello of hellos) hello.close();
  });

  it(
    'keeps admins and bob served through 4,500 silent connections, in a few audit records',
    { timeout: 60_000 },
    async (t) => {
      const recordsBefore = auditRecords(flooded).length;
      const refusedBefore = await counterTotal(flooded, 'jobworker_tls_refused_total');
      const flood = SilentFlood.start(flooded.port, FLOOD.connections, FLOOD.reopenMs);
      const probes: Promise<{ client: string; outcome: string; ms: number }>[] = [];
      const probing = setInterval(() => {
        for (const client of ['admin', 'bob']) {
          probes.push(probe(flooded, client).then((result) => ({ client, ...result })));
        }
      }, PROBE.everyMs);
      await new Promise((resolve) => setTimeout(resolve, FLOOD.durationMs));
      clearInterval(probing);
      const results = await Promise.all(probes);
      const { opened, closedByServer } = await flood.stop();
      const refused = (await counterTotal(flooded, 'jobworker_tls_refused_total')) - refusedBefore;

      // Summaries still being counted are written when the server stops.
      await flooded.stop();
      const added = auditRecords(flooded).slice(recordsBefore);
      const refusals = added.filter((record) => record.action === 'tls.refused');
      const summarised = refusals.reduce((sum, record) => sum + Number(record.details.count), 0);
      const outcomes = results.map((result) => `${result.outcome} in ${result.ms} ms`);
      t.diagnostic(
        `flood: ${opened} connections opened, ${closedByServer} closed by the server; ` +
          `${refused} refusals counted, ${added.length} audit records added ` +
          `(${refusals.length} tls.refused summarising ${summarised}); probes: ${outcomes.join(', ')}`,
      );

      assert.ok(opened >= FLOOD.connections, `the flood opened ${opened}`);
      assert.ok(results.length >= 2 * 15, `${results.length} probes`);
      const failed = results.filter((result) => result.outcome !== '200');
      assert.deepEqual(failed, [], 'every probe answered 200 within 3 s');
      assert.ok(refused >= FLOOD.connections, `metrics counted ${refused} refusals`);
      assert.ok(
        added.length <= MAX_FLOOD_RECORDS,
        `${added.length} audit records for ${refused} refused connections`,
      );
      assert.ok(summarised >= refused, `summaries count ${summarised} of ${refused} refusals`);
      assert.ok(
        refusals.every((record) => record.details.remoteAddress === '127.0.0.1'),
        'each summary names the source',
      );
      const codes = refusals.map((record) => Object.keys(record.details.codes as object));
      assert.ok(codes.flat().includes('HANDSHAKE_EVICTED'), 'the summaries say why');
    },
  );
});
