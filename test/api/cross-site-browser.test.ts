// A client certificate is an ambient credential: a browser that holds alice's presents it to
// every request for the server, also those another site's page makes it send. Tried in a real
// browser (Debian's Chromium, driven by Playwright, holding alice's certificate): a page of another
// origin cannot stop, delete or start alice's jobs, nor make the browser read as her (an <img>,
// a <script>, a no-cors fetch), while the server's own origin still can, and a link on another
// site still opens the console.
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

/** Another site's page: reads as alice in every way a page may, then offers a link to the console. */
function readingPage(target: string, jobId: string): string {
  const reads = [
    `${target}/healthz`,
    `${target}/v1/jobs?limit=1000`,
    `${target}/v1/jobs/${jobId}/output`,
  ];
  return `<!doctype html><title>reading</title>
<a id="console" href="${target}/jobs/${jobId}">the job</a>
<script>
  const loaded = (element) =>
    new Promise((resolve) => {
      element.onload = element.onerror = resolve;
      document.body.append(element);
    });
  const image = document.createElement('img');
  image.src = ${JSON.stringify(reads[0])};
  const script = document.createElement('script');
  script.src = ${JSON.stringify(reads[1])};
  Promise.allSettled([
    loaded(image),
    loaded(script),
    fetch(${JSON.stringify(reads[2])}, { mode: 'no-cors', credentials: 'include' }),
  ]).then(() => { document.title = 'read'; });
</script>`;
}

describe('cross-site requests in a real browser', () => {
  let server: TestServer;
  // Undefined until made: a browser that failed to start must not keep the server running.
  let browser: Browser | undefined;
  let context: BrowserContext;
  let site: Server | undefined;
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
    // Closing the browser closes its contexts.
    await browser?.close();
    site?.close();
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

  it("cannot read as alice from another site's page, whose link to the console still opens it", async () => {
    const target = `https://localhost:${server.port}`;
    const job = await server.startJob('alice', { command: 'sleep', args: ['60'] });
    const tab = await context.newPage();
    const since = server.logs.length;

    page = readingPage(target, job.id);
    await tab.goto(`http://127.0.0.1:${sitePort}/`);
    await tab.waitForFunction('document.title === "read"');

    const answered = (await server.logsSettled(since)).filter(
      (entry) => entry.msg === 'request' && entry.client === 'alice',
    );
    const statusOf = (route: string): unknown[] =>
      answered.filter((entry) => entry.route === route).map((entry) => entry.status);
    assert.deepEqual(statusOf('/healthz'), [403]);
    assert.deepEqual(statusOf('/v1/jobs'), [403]);
    assert.deepEqual(statusOf(`/v1/jobs/${job.id}/output`), [403]);
    // Records are appended after the answers, in a queue a verification waits in.
    await server.request('admin', 'GET', '/v1/audit/verify');
    assert.ok(await refusalAudited(server, 'alice', `/v1/jobs/${job.id}/output`));
    const records = (await server.request('auditor', 'GET', `/v1/audit?job=${job.id}`)).json<{
      records: { action: string }[];
    }>().records;
    assert.ok(!records.some((record) => record.action === 'job.output'), 'not read as alice');

    // Following the link is a navigation to the console: it opens, and reads her job as her.
    const opened = tab.waitForResponse(`${target}/jobs/${job.id}`);
    await tab.click('#console');
    assert.equal((await opened).status(), 200);
    await tab.locator('#status').getByText('running').waitFor();

    await tab.close();
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    await server.waitForEnd('alice', job.id);
  });
});
