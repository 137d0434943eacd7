// A job's output on its page, in Chromium, as a terminal would show it: ANSI colours rendered
// (they were raw escapes), markup inside a colour sequence still inert text, `\r` progress lines
// overwritten (they ran together), every line numbered with a link, and a search that marks the
// lines that match and jumps between them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { contextFor, launchChromium } from '../helpers/browser.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const SCRIPT = [
  "printf '\\033[31mred <script>window.pwned=1</script>\\033[0m plain\\n'",
  "printf '\\033[1;32mbold green\\033[0m\\n'",
  "printf 'progress 10%%\\rprogress 50%%\\rprogress 100%%\\n'",
  "printf 'needle one\\nhay\\nneedle two\\n'",
].join('; ');

describe("a job's output as a terminal shows it", () => {
  let server: TestServer;
  let browser: Browser;
  let alice: BrowserContext;
  let origin = '';
  let id = '';

  before(async () => {
    server = await startServer();
    origin = `https://localhost:${server.port}`;
    browser = await launchChromium();
    alice = await contextFor(browser, server, 'alice');
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', SCRIPT],
      labels: { suite: 'rerun' },
    });
    await server.waitForEnd('alice', job.id);
    id = job.id;
  });
  after(async () => {
    await browser.close();
    await server.dispose();
  });

  async function open(hash = ''): Promise<Page> {
    const page = await alice.newPage();
    page.on('dialog', (dialog) => assert.fail(`a dialog opened: ${dialog.message()}`));
    assert.equal((await page.goto(`${origin}/jobs/${id}${hash}`))?.status(), 200);
    await page.locator('pre.output').getByText('needle two').waitFor();
    return page;
  }

  it('renders colours, and markup inside a colour sequence stays text', async () => {
    const page = await open();
    const output = page.locator('pre.output');
    const text = (await output.textContent()) ?? '';
    assert.ok(!text.includes('\u001b'), 'no raw escape character');
    assert.doesNotMatch(text, /\[31m|\[0m/, 'no raw escape sequences');
    const red = output.getByText('red <script>window.pwned=1</script>');
    assert.equal(await red.evaluate((node) => getComputedStyle(node).color), 'rgb(187, 0, 0)');
    const green = output.getByText('bold green');
    assert.equal(await green.evaluate((node) => getComputedStyle(node).fontWeight), '700');
    assert.equal(await page.locator('main script, main img').count(), 0);
    assert.equal(await page.evaluate("'pwned' in window"), false);
    await page.close();
  });

  it('overwrites a line at each carriage return, as a terminal does', async () => {
    const page = await open();
    const text = (await page.locator('pre.output').textContent()) ?? '';
    assert.match(text, /\nprogress 100%\n/);
    assert.doesNotMatch(text, /progress 10%|progress 50%/);
    await page.close();
  });

  it('numbers the lines: a click on a number selects the line and links to it', async () => {
    const page = await open();
    const line = page.locator('#L2');
    assert.equal(await line.textContent(), 'bold green\n');
    await line.click({ position: { x: 5, y: 5 } });
    assert.match(page.url(), /#L2$/);
    assert.equal(await line.getAttribute('class'), 'line selected');
    const linked = await open('#L5');
    await linked.locator('#L5.selected').waitFor();
    assert.equal(await linked.locator('#L5').textContent(), 'hay\n');
    await page.close();
    await linked.close();
  });

  it('searches the output: matching lines marked, Enter jumps between them', async () => {
    const page = await open();
    await page.getByLabel('search the output').fill('needle');
    assert.equal(await page.locator('.line.match').count(), 2);
    await page.getByLabel('search the output').press('Enter');
    await page.getByText('1 of 2').waitFor();
    assert.equal(await page.locator('.line.match.current').textContent(), 'needle one\n');
    await page.getByLabel('search the output').press('Enter');
    assert.equal(await page.locator('.line.match.current').textContent(), 'needle two\n');
    await page.close();
  });

  it("shows each line's time when timestamps are switched on", async () => {
    const page = await open();
    await page.getByLabel('timestamps').check();
    const stamped = page.locator('#timestamped');
    await stamped.getByText('needle two').waitFor();
    const lines = ((await stamped.textContent()) ?? '').split('\n').filter((line) => line !== '');
    assert.ok(lines.length >= 6, lines.join('\n'));
    // (The progress line's carriage returns overwrite its time, as on a terminal.)
    for (const line of lines.filter((text) => !text.includes('progress'))) {
      assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /, line);
    }
    assert.match(lines.join('\n'), /Z needle two$/);
    assert.equal(await page.locator('pre.output').first().isVisible(), false);
    await page.getByLabel('timestamps').uncheck();
    assert.equal(await page.locator('pre.output').first().isVisible(), true);
    await page.close();
  });

  it('re-runs the job: the same command, arguments and labels, and opens the new one', async () => {
    const page = await open();
    await page.getByRole('button', { name: 'Re-run' }).click();
    await page.waitForURL(
      (url) => /\/jobs\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(id),
    );
    const rerun = page.url().split('/').pop() ?? '';
    await page.locator('pre.output').getByText('needle two').waitFor();
    const [before, after] = await Promise.all(
      [id, rerun].map(async (job) =>
        (await server.request('alice', 'GET', `/v1/jobs/${job}`)).json<{
          command: string;
          args: string[];
          labels: Record<string, string>;
          limits: Record<string, number>;
        }>(),
      ),
    );
    assert.deepEqual(
      [after?.command, after?.args, after?.labels, after?.limits],
      [before?.command, before?.args, before?.labels, before?.limits],
    );
    await page.close();
  });
});
