// A browser (or curl) without a client certificate: it gets one page that says what to do, the
// same whatever it asks for, and its connection closed after it; no route of the API or the
// console answers it. Chromium showed "This site can't be reached" before, and curl an empty
// reply. Such connections stay in the handshake budget until they close.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls, { type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const PAGE_TITLE = 'This server needs a client certificate';

describe('a client without a certificate', () => {
  let server: TestServer;
  let browser: Browser;

  /** Two handshake places: two silent connections without a certificate fill them. */
  const startTwoPlaceServer = () =>
    startServer({ args: ['--max-handshakes', '2', '--address-handshakes', '2'] });

  before(async () => {
    server = await startTwoPlaceServer();
    browser = await launchChromium();
  });
  after(async () => {
    await browser.close();
    await server.dispose();
  });

  /** A TLS connection that presents no certificate, once its handshake is done. */
  async function connectWithout(target = server): Promise<TLSSocket> {
    const socket = tls.connect({
      host: 'localhost',
      port: target.port,
      ca: readFileSync(join(target.certsDir, 'ca.pem')),
    });
    await once(socket, 'secureConnect');
    return socket;
  }

  /** Everything the server sends until it closes the connection. */
  async function readToEnd(socket: TLSSocket): Promise<string> {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(socket, 'end');
    socket.destroy();
    return Buffer.concat(chunks).toString('utf8');
  }

  it('shows Chromium a page that says to load a client certificate', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const response = await page.goto(`https://localhost:${server.port}/`);
    assert.equal(response?.status(), 403);
    await page.getByRole('heading', { name: PAGE_TITLE }).waitFor();
    const text = (await page.locator('body').textContent()) ?? '';
    assert.match(text, /certs\/clients\/NAME\/client\.p12/);
    assert.match(text, /README/);
    // The page alone: none of the console's files was loaded, nor any script run.
    assert.equal(await page.locator('script, link').count(), 0);
    await context.close();
  });

  it('gives curl the page for an API path, and closes the connection', async () => {
    const { stdout, stderr } = await promisify(execFile)('curl', [
      '-sS',
      '-v',
      '-i',
      '--cacert',
      join(server.certsDir, 'ca.pem'),
      `https://localhost:${server.port}/v1/jobs`,
    ]);
    assert.match(stdout, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(stdout, /content-type: text\/html; charset=utf-8/i);
    assert.match(stdout, /connection: close/i);
    assert.match(stdout, new RegExp(PAGE_TITLE));
    assert.match(stderr, /Closing connection|shutting down connection|close/i);
  });

  it('answers the first request only, whatever it asks, and nothing of the API', async () => {
    const socket = await connectWithout();
    // Pipelined: the API's listing, its health and the console's code; one answer, then the end.
    socket.write(
      'GET /v1/jobs HTTP/1.1\r\nHost: localhost\r\n\r\n' +
        'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' +
        'GET /ui/app.js HTTP/1.1\r\nHost: localhost\r\n\r\n',
    );
    const answer = await readToEnd(socket);
    assert.equal(answer.match(/^HTTP\/1\.1 /gm)?.length, 1, answer);
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(answer, new RegExp(PAGE_TITLE));
    assert.doesNotMatch(answer, /"jobs"|"status"|import /);
    // Nothing reached the application.
    assert.equal(server.logs.filter((line) => line.msg === 'request').length, 0);
  });

  it('counts such connections against the handshake budget until they close', async () => {
    // A server of its own: the tests before leave connections closing (the server lingers a
    // second after each page), which would hold a place here for a moment under load.
    const own = await startTwoPlaceServer();
    try {
      const silent = [await connectWithout(own), await connectWithout(own)];
      // Both places are taken by connections that have spoken: a newcomer is refused.
      await assert.rejects(own.request('admin', 'GET', '/healthz'));
      // Once they have their page and are closed, the places are free again.
      // Both read at once: the server lingers a second after each page, not for a slow reader.
      const pages = silent.map((socket) => readToEnd(socket));
      for (const socket of silent) socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      for (const page of await Promise.all(pages)) assert.match(page, /403 Forbidden/);
      const metrics = await own.request('admin', 'GET', '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(
        metrics.text(),
        /^jobworker_tls_refused_total\{reason="HANDSHAKES_FULL"\} [1-9]/m,
      );
    } finally {
      await own.dispose();
    }
  });
});
