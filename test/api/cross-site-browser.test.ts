// A client certificate is an ambient credential: a browser that holds alice's presents it to
// every request for the server, also those another site's page makes it send. Tried in a real
// browser (Debian's Chromium, driven by Playwright, holding alice's certificate): a page of another
// origin cannot stop, delete or start alice's jobs, while the server's own origin still can.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { contextFor, launchChromium, refusalAudited } from '../helpers/browser.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

/** Another site's page: fires the requests a hostile page can make, then sets its title. */
function evilPage(target: string, jobId: string): string {
  const job = `${target}/v1/jobs/${jobId}`;
  const start = JSON.stringify({ command: 'touch', args: ['/tmp/pwned'] });
  return `<!doctype html><title>working</title>
<form id="start" method="POST" action="${target}/v1/jobs" enctype="text/plain" target="sink">
  <input name='${start.slice(0, -2)}' value='"}'>
</form>
<iframe name="sink"></iframe>
<script>
  const opts = { mode: 'no-cors', credentials: 'include' };
  Promise.allSettled([
    fetch(${JSON.stringify(`${job}/stop`)}, { ...opts, method: 'POST' }),
    fetch(${JSON.stringify(job)}, { ...opts, method: 'DELETE' }),
    fetch(${JSON.stringify(`${target}/v1/jobs`)}, {
      ...opts, method: 'POST', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(start)},
    }),
  ]).then(() => {
    document.querySelector('iframe').onload = () => { document.title = 'done'; };
    document.getElementById('start').submit();
  });
</script>`;
}

describe('cross-site requests in a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let site: Server;
  let sitePort = 0;
  let page = '';

  before(async () => {
    server = await startServer();
    browser = await launchChromium();
    context = await contextFor(browser, server, 'alice');
    site = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end(page);
    });
    site.listen(0, '127.0.0.1');
    await once(site, 'listening');
    const address = site.address();
    sitePort = typeof address === 'object' && address !== null ? address.port : 0;
  });
  after(async () => {
    await context.close();
    await browser.close();
    site.close();
    await server.dispose();
  });

  it("cannot stop, delete or start alice's jobs from another site's page", async () => {
    const target = `https://localhost:${server.port}`;
    const job = await server.startJob('alice', { command: 'sleep', args: ['60'] });
    const tab = await context.newPage();

    // The browser does hold alice's certificate: her own origin reads and changes her jobs.
    const own = await tab.goto(`${target}/v1/jobs/${job.id}`);
    assert.equal(own?.status(), 200);
    const sameOrigin = await tab.evaluate(async () => {
      const response = await fetch('/v1/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'true' }),
      });
      return response.status;
    });
    assert.equal(sameOrigin, 201);
    const before = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>().jobs;

    page = evilPage(target, job.id);
    await tab.goto(`http://127.0.0.1:${sitePort}/`);
    await tab.waitForFunction('document.title === "done"');

    const after = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: Job[] }>().jobs;
    assert.equal(after.length, before.length, 'no job was started');
    assert.equal(after.find((entry) => entry.id === job.id)?.status, 'running');
    const refused = server.logs.filter(
      (entry) => entry.msg === 'request' && entry.client === 'alice' && entry.status === 403,
    );
    assert.ok(refused.length >= 3, `refused: ${JSON.stringify(refused)}`);
    assert.ok(await refusalAudited(server, 'alice', `/v1/jobs/${job.id}/stop`));
    await tab.close();
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    await server.waitForEnd('alice', job.id);
  });
});
