// How the console names a job's end, in Chromium: a job a signal killed is `killed (SIGTERM)`
// (it was `exited null`), one the kernel killed for memory is `OOMKilled`, as Kubernetes says,
// and a job that ended other than as its owner asked says why in a banner at the top of its page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { contextFor, launchChromium } from '../helpers/browser.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

describe("the console's words for a job's end", () => {
  let server: TestServer;
  let browser: Browser;
  let alice: BrowserContext;
  let origin = '';

  before(async () => {
    // One running job at a time, so a second one waits in the queue.
    server = await startServer({ env: { CLIENT_MAX_RUNNING: '1' } });
    origin = `https://localhost:${server.port}`;
    browser = await launchChromium();
    alice = await contextFor(browser, server, 'alice');
  });
  after(async () => {
    await browser.close();
    await server.dispose();
  });

  async function jobPage(id: string): Promise<Page> {
    const page = await alice.newPage();
    assert.equal((await page.goto(`${origin}/jobs/${id}`))?.status(), 200);
    await page.locator('#status').waitFor();
    return page;
  }

  it('says `killed (SIGTERM)` for a job a signal ended, never `null`', async () => {
    const job = await server.startJob('alice', { command: 'sh', args: ['-c', 'kill -TERM $$'] });
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.signal, 'SIGTERM');
    const page = await jobPage(job.id);
    assert.equal(await page.locator('#status').textContent(), 'killed (SIGTERM)');
    await page.locator('#failure', { hasText: 'killed by SIGTERM' }).waitFor();
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /null/);
    const list = await alice.newPage();
    await list.goto(`${origin}/`);
    const chip = list.locator(`tr[data-job="${job.id}"] .status`);
    assert.equal(await chip.textContent(), 'killed (SIGTERM)');
    await page.close();
    await list.close();
  });

  it('says `OOMKilled` for a job the kernel killed for memory', async (t) => {
    const health = (await server.request('admin', 'GET', '/healthz')).json<{
      protections: { enforceableLimits: string[] };
    }>();
    if (!health.protections.enforceableLimits.includes('memory')) {
      return t.skip('no memory limits on this host');
    }
    const job = await server.startJob('alice', {
      command: 'python3',
      args: ['-c', 'b = bytearray(256 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1'],
      limits: { memory: '64M' },
    });
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.oomKilled, true);
    const page = await jobPage(job.id);
    assert.equal(await page.locator('#status').textContent(), 'OOMKilled');
    await page.locator('#failure', { hasText: 'out of memory' }).waitFor();
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /null|exited/);
    await page.close();
  });

  it("shows a failed job's error in a banner at the top of its page", async () => {
    const blocker = await server.startJob('alice', { command: 'sleep', args: ['600'] });
    // Queued behind the running job, so the start is answered before the command is looked for.
    const job = await server.startJob('alice', { command: 'no-such-program-5b2e' });
    assert.equal(job.status, 'queued');
    await server.request('alice', 'POST', `/v1/jobs/${blocker.id}/stop`);
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.status, 'failed');
    assert.ok(ended.error !== null);
    const page = await jobPage(job.id);
    const banner = page.locator('#failure');
    await banner.waitFor();
    assert.match((await banner.textContent()) ?? '', /no-such-program-5b2e/);
    // Above the command, where it is read first.
    const [bannerBox, headingBox] = await Promise.all([
      banner.boundingBox(),
      page.locator('h1').boundingBox(),
    ]);
    assert.ok(bannerBox !== null && headingBox !== null && bannerBox.y < headingBox.y);
    await page.close();
  });

  it("shows a running job's CPU time and memory while it runs, not a dash", async () => {
    // Holds about 20 MB in the shell's own memory, then waits to be stopped.
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'x=$(head -c 20000000 /dev/zero | tr "\\0" a); echo held; sleep 600'],
    });
    await server.waitForOutput('alice', job.id);
    const page = await jobPage(job.id);
    const fact = (name: string) => page.locator('dt', { hasText: name }).locator('+ dd');
    assert.equal(await page.locator('#status').textContent(), 'running');
    assert.notEqual(await fact('CPU time').textContent(), '—');
    assert.match((await fact('memory now').textContent()) ?? '', /[0-9.]+ (MiB|KiB|GiB)/);
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
    await server.waitForEnd('alice', job.id);
    await page.close();
  });

  it('shows no banner for a job that exited 0, and the queue reason for a queued one', async () => {
    const done = await server.startJob('alice', { command: 'true' });
    await server.waitForEnd('alice', done.id);
    const page = await jobPage(done.id);
    assert.equal(await page.locator('#status').textContent(), 'exited');
    assert.equal(await page.locator('#failure').isVisible(), false);
    const blocker = await server.startJob('alice', { command: 'sleep', args: ['600'] });
    const queued = await server.startJob('alice', { command: 'true' });
    const waiting = await jobPage(queued.id);
    await waiting.getByText(/in the queue: /).waitFor();
    await server.request('alice', 'POST', `/v1/jobs/${blocker.id}/stop`);
    await server.waitForEnd('alice', queued.id);
    await page.close();
    await waiting.close();
  });
});
