// Central logs: with --syslog the server ships its log lines and every audit record to a real
// rsyslog (Debian's, with rsyslog-gnutls) over mutual TLS, RFC 5424 messages in RFC 5425 framing.
// Each carries the same correlation fields, the client's W3C trace id included. A collector that
// goes away costs nothing but the lines that do not fit the queue: they are counted in /metrics,
// and said once the collector is back.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { healthzWith, startServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);

/** Whether something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(port, '127.0.0.1');
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** rsyslogd in the foreground: TLS on `port`, only clients of `caFile`, every message to a file. */
class Collector {
  readonly received: string;
  readonly #dir: string;
  readonly #port: number;
  #daemon: ChildProcess | undefined;

  constructor(dir: string, port: number) {
    this.#dir = dir;
    this.#port = port;
    this.received = join(dir, 'received.log');
  }

  /** A certificate for the collector, from the server's CA (openssl, independent of our PKI). */
  async certify(certsDir: string): Promise<void> {
    const key = join(this.#dir, 'collector-key.pem');
    const request = join(this.#dir, 'collector.csr');
    const extensions = join(this.#dir, 'collector.ext');
    await writeFile(
      extensions,
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    );
    await run(
      'openssl',
      ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost'].concat([
        '-keyout',
        key,
        '-out',
        request,
      ]),
    );
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      request,
      '-days',
      '1',
      '-CA',
      join(certsDir, 'ca.pem'),
      '-CAkey',
      join(certsDir, 'ca-key.pem'),
      '-CAcreateserial',
      '-extfile',
      extensions,
      '-out',
      join(this.#dir, 'collector.pem'),
    ]);
    await writeFile(
      join(this.#dir, 'rsyslog.conf'),
      [
        `global(workDirectory="${this.#dir}"`,
        `  DefaultNetstreamDriver="gtls"`,
        `  DefaultNetstreamDriverCAFile="${join(certsDir, 'ca.pem')}"`,
        `  DefaultNetstreamDriverCertFile="${join(this.#dir, 'collector.pem')}"`,
        `  DefaultNetstreamDriverKeyFile="${key}")`,
        // x509/name: only the server's certificate (from this CA, named localhost) may send; an
        // API client's, from the same CA, may not (docs/logging.md).
        `module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/name" PermittedPeer=["localhost"])`,
        `input(type="imtcp" port="${this.#port}" address="127.0.0.1")`,
        `template(name="whole" type="string" string="%rawmsg%\\n")`,
        `*.* action(type="omfile" file="${this.received}" template="whole")`,
        '',
      ].join('\n'),
    );
  }

  async start(): Promise<void> {
    this.#daemon = spawn(
      '/usr/sbin/rsyslogd',
      ['-n', '-f', join(this.#dir, 'rsyslog.conf'), '-i', join(this.#dir, 'rsyslogd.pid')],
      // Its complaints about the readiness probes (plain TCP on its TLS port) are noise here.
      { stdio: 'ignore' },
    );
    // rsyslogd says nothing when it is ready: it is, once it accepts a connection.
    for (let tries = 0; tries < 100; tries += 1) {
      if (await accepts(this.#port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('rsyslogd did not start listening');
  }

  async stop(): Promise<void> {
    const daemon = this.#daemon;
    if (daemon === undefined || daemon.exitCode !== null) return;
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
  }

  async messages(): Promise<string[]> {
    const text = await readFile(this.received, 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line !== '');
  }

  /** Resolves with the messages once one of them matches. */
  async waitFor(matches: (message: string) => boolean, timeoutMs = 20_000): Promise<string[]> {
    const watcher = watch(this.#dir);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<string[]>((resolve, reject) => {
        let reading = Promise.resolve();
        const check = (): void => {
          reading = reading.then(async () => {
            const messages = await this.messages();
            if (messages.some(matches)) resolve(messages);
          });
        };
        watcher.on('change', check);
        timer = setTimeout(() => {
          void this.messages().then((messages) =>
            reject(
              new Error(`no such message in ${timeoutMs} ms: ${messages.slice(-5).join('\n')}`),
            ),
          );
        }, timeoutMs);
        check();
      });
    } finally {
      watcher.close();
      clearTimeout(timer);
    }
  }
}

describe('shipping logs and audit records to a syslog collector', () => {
  let baseDir: string;
  let collector: Collector;
  let server: TestServer;
  before(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'jobworker-syslog-'));
    // A first start makes the development PKI, whose CA then certifies the collector.
    await (await startServer({ baseDir })).stop();
    const collectorDir = join(baseDir, 'collector');
    await mkdir(collectorDir);
    const port = await freePort();
    collector = new Collector(collectorDir, port);
    await collector.certify(join(baseDir, 'certs'));
    await collector.start();
    server = await startServer({
      baseDir,
      env: { SYSLOG_URL: `tls://127.0.0.1:${port}`, SYSLOG_QUEUE: '64KiB' },
    });
  });
  after(async () => {
    await server?.dispose();
    await collector?.stop();
    await rm(baseDir, { recursive: true, force: true });
  });

  it("ships log lines and audit records, RFC 5424 over TLS, with the client's trace id", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await server.request('alice', 'POST', '/v1/jobs', {
      json: { command: 'true' },
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    assert.equal(response.status, 201);
    const requestId = String(response.headers['x-request-id']);
    const job = response.json<{ id: string }>();
    const messages = await collector.waitFor(
      (message) => message.includes(' audit ') && message.includes('"job.start"'),
    );
    const audit = messages.find((message) => message.includes('"job.start"')) ?? '';
    // <PRI>1 TIME HOST APP PID MSGID [SD] MSG: facility authpriv (10), severity notice (5).
    assert.match(audit, /^<85>1 \S+ \S+ jobworker \d+ audit \[jobworker@32473 /);
    for (const field of [
      `requestId="${requestId}"`,
      `traceId="${traceId}"`,
      'client="alice"',
      `jobId="${job.id}"`,
    ]) {
      assert.ok(audit.includes(field), `${field} in ${audit}`);
    }
    const line = await collector.waitFor(
      (message) =>
        message.includes(' log ') &&
        message.includes(`"requestId":"${requestId}"`) &&
        message.includes('"msg":"request"'),
    );
    const request =
      line.find(
        (message) =>
          message.includes(`"requestId":"${requestId}"`) && message.includes('"msg":"request"'),
      ) ?? '';
    // facility daemon (3), severity info (6).
    assert.match(request, /^<30>1 /);
    assert.ok(request.includes(`traceId="${traceId}"`), request);
    assert.ok(request.includes(`"traceId":"${traceId}"`), request);
    assert.ok(request.includes('"role":"user"'), request);
  });

  it('keeps serving while the collector is down, counts what it could not keep, and says so once back', async () => {
    const outageStart = server.logs.length;
    await collector.stop();
    // More than the 64 KiB queue holds: about 1 KiB of log and audit per start. The first ones
    // wait in the queue; later ones are dropped.
    const jobs: string[] = [];
    for (let i = 0; i < 150; i += 1) {
      const response = await server.request('alice', 'POST', '/v1/jobs', {
        json: { command: 'true' },
      });
      assert.equal(response.status, 201);
      jobs.push(response.json<{ id: string }>().id);
    }
    const metrics = (await server.request('admin', 'GET', '/metrics')).text();
    const dropped = Number(/^jobworker_syslog_dropped_total (\d+)/m.exec(metrics)?.[1]);
    assert.ok(dropped > 0, `dropped ${dropped}`);
    const unreachable = server.logs
      .slice(outageStart)
      .filter((entry) => entry.msg === 'syslog collector unreachable');
    assert.equal(unreachable.length, 1, 'said once per outage');
    await collector.start();
    const messages = await collector.waitFor(
      (message) => message.includes('lines were lost meanwhile'),
      40_000,
    );
    const notice = messages.find((message) => message.includes('lines were lost meanwhile')) ?? '';
    // The notice counts what /metrics counted (nothing else was lost in this server's life).
    const after = (await server.request('admin', 'GET', '/metrics')).text();
    const total = Number(/^jobworker_syslog_dropped_total (\d+)/m.exec(after)?.[1]);
    assert.equal(Number(/"dropped":(\d+)/.exec(notice)?.[1]), total);
    // What the queue held arrived, after the outage: the audit record of the first job started
    // while the collector was down.
    const first = jobs[0] ?? '?';
    assert.ok(
      messages.some((message) => message.includes('"job.start"') && message.includes(first)),
      'the queued records were delivered',
    );
  });

  it('refuses its own certificate as a client of the API: it names no client', async () => {
    const certs = join(baseDir, 'certs');
    const result = await healthzWith(server.port, {
      ca: join(certs, 'ca.pem'),
      cert: join(certs, 'server.pem'),
      key: join(certs, 'server-key.pem'),
    });
    // Through TLS (it is the CA's, valid for client authentication), then unauthenticated.
    assert.equal(result, '401');
  });
});
