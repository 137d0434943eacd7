// A `tty` job's page in Chromium is a terminal (xterm.js over the attach WebSocket): its owner
// types `echo hi` into a job running `sh` and sees `hi`; before, the page only showed the output.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { contextFor, launchChromium } from '../helpers/browser.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

describe("a tty job's terminal in the console", () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    server = await startServer();
    browser = await launchChromium();
  });
  after(async () => {
    await browser.close();
    await server.dispose();
  });

  it('takes what its owner types and shows what the job answers', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      tty: true,
      stdin: true,
    });
    const context = await contextFor(browser, server, 'alice');
    const page = await context.newPage();
    await page.goto(`https://localhost:${server.port}/jobs/${job.id}`);
    const rows = page.locator('#terminal .xterm-rows');
    await page.getByText('connected: type into the terminal').waitFor();
    await page.locator('#terminal').click();
    await page.keyboard.type('echo hi\n');
    // The echoed command is one row, the job's answer another.
    await rows.locator('div', { hasText: /^hi\s*$/ }).waitFor();
    await page.keyboard.type('exit\n');
    await page.getByText('the job has ended').waitFor();
    const ended = await server.waitForEnd('alice', job.id);
    assert.equal(ended.exitCode, 0);
    await context.close();
  });
});
