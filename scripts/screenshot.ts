// `npm run screenshot`: the README's picture of the web console, made the way its tests see it: a
// real server with the development PKI, Debian's Chromium holding alice's certificate, a few
// jobs of hers. Writes docs/console.png (a job's page) and docs/console-jobs.png (the list).
import { join } from 'node:path';
import { contextFor, launchChromium } from '../test/helpers/browser.ts';
import { ROOT, startServer } from '../test/helpers/server.ts';

/** A build as a CI system would run it: steps on stdout, a warning on stderr, then it waits. */
const BUILD = [
  'for step in fetch configure compile link; do echo "== $step"; sleep 0.2; done',
  'echo "warning: 3 deprecated calls in src/legacy.c" >&2',
  'echo "tests: 212 passed, 0 failed"',
  'exec sleep 600',
].join('; ');

const server = await startServer();
const browser = await launchChromium();
try {
  const origin = `https://localhost:${server.port}`;
  const done = await server.startJob('alice', {
    command: 'python3',
    args: ['-c', 'print("report written")'],
    labels: { pipeline: 'nightly' },
  });
  await server.waitForEnd('alice', done.id);
  const failed = await server.startJob('alice', {
    command: 'sh',
    args: ['-c', 'echo "cannot reach the mirror" >&2; exit 3'],
    labels: { pipeline: 'nightly' },
  });
  await server.waitForEnd('alice', failed.id);
  const build = await server.startJob('alice', {
    command: 'sh',
    args: ['-c', BUILD],
    limits: { cpus: 1, memory: '512M', pids: 128 },
    labels: { pipeline: 'ci', commit: 'a1b2c3d' },
  });

  const context = await contextFor(browser, server, 'alice', { width: 1100, height: 900 });
  const page = await context.newPage();
  await page.goto(`${origin}/jobs/${build.id}`);
  await page.locator('pre.output').getByText('tests: 212 passed').waitFor();
  await page.screenshot({ path: join(ROOT, 'docs', 'console.png') });
  await page.goto(`${origin}/`);
  await page.locator(`tr[data-job="${failed.id}"]`).waitFor();
  await page.screenshot({ path: join(ROOT, 'docs', 'console-jobs.png') });
  await context.close();
  await server.request('alice', 'POST', `/v1/jobs/${build.id}/stop`);
  await server.waitForEnd('alice', build.id);
  console.log('screenshot: wrote docs/console.png and docs/console-jobs.png');
} finally {
  await browser.close();
  await server.dispose();
}
