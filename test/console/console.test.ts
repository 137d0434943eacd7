// The web console in a real browser: Debian's Chromium driven by Playwright, holding the
// development clients' certificates. What a person sees: alice starts a job from the form and
// watches its output arrive, stops it; bob cannot open her job's page; the page stays small and
// usable on a phone; and what a hostile job or site would try (markup in output, commands and
// arguments; framing the console; inline script) does nothing. Labels need no such test: the API
// refuses any label that is not letters, digits, '-', '_' and '.'.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type {
  Browser,
  BrowserContext,
  Page,
  Response as PlaywrightResponse,
} from 'playwright-core';
import { contextFor, launchChromium, refusalAudited } from '../helpers/browser.ts';
import { startServer, type ClientName, type TestServer } from '../helpers/server.ts';

/** What the console page keeps of a job's output (ui/output-view.js). */
const KEEP_CHARS = 256 * 1024;

describe('the web console', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts = new Map<ClientName, BrowserContext>();
  let origin = '';

  before(async () => {
    server = await startServer();
    origin = `https://localhost:${server.port}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser.close();
    await server.dispose();
  });

  /** The client's browser profile (one per client, made when first needed). */
  async function contextOf(client: ClientName): Promise<BrowserContext> {
    const known = contexts.get(client);
    if (known !== undefined) return known;
    const context = await contextFor(browser, server, client);
    contexts.set(client, context);
    return context;
  }

  async function open(client: ClientName, path: string): Promise<Page> {
    const context = await contextOf(client);
    const page = await context.newPage();
    page.on('dialog', (dialog) => assert.fail(`a dialog opened: ${dialog.message()}`));
    const response = await page.goto(`${origin}${path}`);
    assert.equal(response?.status(), 200);
    return page;
  }

  it('lets alice start a job from the form, watch its output arrive live and stop it', async () => {
    const page = await open('alice', '/');
    await page.getByText('Start a job').click();
    await page.getByPlaceholder('e.g. python3').fill('sh');
    // A line a second, odd ones on stderr, for as long as it runs.
    const script =
      'n=0; while :; do n=$((n+1)); if [ $((n % 2)) = 1 ]; then echo "tick $n" >&2; else echo "tick $n"; fi; sleep 1; done';
    for (const argument of ['-c', script]) {
      await page.getByRole('button', { name: '+ argument' }).click();
      await page.locator('[data-list="argument"] input').last().fill(argument);
    }
    await page.getByRole('button', { name: '+ variable' }).click();
    await page.getByLabel('variable NAME').fill('GREETING');
    await page.getByLabel('variable value').fill('hello');
    await page.getByRole('button', { name: '+ label' }).click();
    await page.getByLabel('label key').fill('suite');
    await page.getByLabel('label value').fill('console');
    // The network chosen is sent: the host's is refused to a user, as the form then says.
    await page.getByLabel('network').selectOption('host');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page
      .getByRole('alert')
      .getByText(/may not run jobs with "network": "host"/)
      .waitFor();
    await page.getByLabel('network').selectOption('none');
    await page.getByRole('button', { name: 'Start', exact: true }).click();

    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop() ?? '';
    const output = page.locator('pre.output');
    await output
      .getByText(/tick \d+/)
      .first()
      .waitFor();
    assert.equal(await page.locator('#status').textContent(), 'running');
    assert.equal(await page.locator('dt:text-is("network") + dd').textContent(), 'none');
    // Lines the page had not seen when it opened arrive while it watches.
    const seen = Number(/tick (\d+)\n?$/.exec((await output.textContent()) ?? '')?.[1]);
    await output.getByText(`tick ${seen + 2}`).waitFor();
    // From the first byte, stdout and stderr told apart.
    assert.match((await output.textContent()) ?? '', /^tick 1\ntick 2\n/);
    assert.equal(await output.locator('span.stderr').first().textContent(), 'tick 1\n');
    assert.equal(await output.locator('span.stdout').first().textContent(), 'tick 2\n');

    const job = (await server.request('alice', 'GET', `/v1/jobs/${id}`)).json<{
      args: string[];
      envNames: string[];
      labels: Record<string, string>;
      network: string;
    }>();
    assert.deepEqual(job.args, ['-c', script], 'each field is one argument: no shell line');
    assert.equal(job.network, 'none');
    assert.deepEqual(job.labels, { suite: 'console' });
    assert.ok(job.envNames.includes('GREETING'), JSON.stringify(job.envNames));

    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('#status', { hasText: 'stopped' }).waitFor();
    await page.getByText('the job has ended').waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(`${origin}/`);
    assert.equal((await server.request('alice', 'GET', `/v1/jobs/${id}`)).status, 404);
    await page.close();
  });

  it("lists alice's jobs newest first, filtered by status and label, with live status", async () => {
    const done = await server.startJob('alice', {
      command: 'true',
      labels: { team: 'blue' },
    });
    await server.waitForEnd('alice', done.id);
    const running = await server.startJob('alice', {
      command: 'sleep',
      args: ['600'],
      labels: { team: 'red' },
    });
    const page = await open('alice', '/');
    const rows = page.locator('table.jobs tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.first().getAttribute('data-job'), running.id);
    await page.getByLabel('label').fill('team=blue');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator(`tr[data-job="${running.id}"]`).waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute('data-job'), done.id);

    await page.getByLabel('label').fill('');
    await page.getByLabel('status').selectOption('running');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator(`tr[data-job="${done.id}"]`).waitFor({ state: 'detached' });
    const row = page.locator(`tr[data-job="${running.id}"]`);
    assert.equal(await row.locator('.status').textContent(), 'running');
    // Stopped elsewhere (by jobctl, say): the list shows it without a reload.
    await page.getByLabel('status').selectOption('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await server.request('alice', 'POST', `/v1/jobs/${running.id}/stop`);
    await row.locator('.status', { hasText: 'stopped' }).waitFor({ timeout: 15_000 });
    await page.close();
  });

  it('pages through older jobs', async () => {
    // Three without the label: the thirty and no more show that the filter applied.
    for (let n = 0; n < 33; n += 1) {
      const labels = n < 3 ? {} : { batch: 'paged' };
      await server.startJob('bob', { command: 'true', labels });
    }
    const page = await open('bob', '/');
    await page.getByLabel('label').fill('batch=paged');
    await page.getByRole('button', { name: 'Filter' }).click();
    const rows = page.locator('table.jobs tbody tr');
    // (The rows of a page are shown at once, so the last one there means all are.)
    await rows.nth(24).waitFor();
    assert.equal(await rows.count(), 25);
    await page.getByRole('button', { name: 'Older jobs' }).click();
    await rows.nth(29).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Older jobs' }).isVisible(), false);
    assert.equal(await rows.count(), 30);
    await page.close();
  });

  it("does not show bob alice's job: her page for him is the API's 404", async () => {
    const job = await server.startJob('alice', {
      command: 'echo',
      args: ['alice-secret-7d1c'],
    });
    await server.waitForEnd('alice', job.id);
    const page = await open('bob', `/jobs/${job.id}`);
    await page.getByText(`No job ${job.id} here.`).waitFor();
    const text = await page.locator('body').textContent();
    assert.doesNotMatch(text ?? '', /alice-secret|alice/);
    const list = await open('bob', '/');
    await list.locator('table.jobs tbody tr').first().waitFor();
    assert.equal(await list.locator(`tr[data-job="${job.id}"]`).count(), 0);
    await page.close();
    await list.close();
  });

  it('renders markup in output, commands and arguments as text: it runs nothing', async () => {
    const markup = '<img src=x onerror="window.pwned=1">';
    const job = await server.startJob('alice', {
      command: 'sh',
      args: [
        '-c',
        `printf '%s\\n' '${markup}'; printf '%s\\n' '<script>window.pwned=2</script>' >&2`,
      ],
    });
    await server.waitForEnd('alice', job.id);
    const page = await open('alice', `/jobs/${job.id}`);
    const output = page.locator('pre.output');
    await output.getByText('<script>window.pwned=2</script>').waitFor();
    assert.match((await output.textContent()) ?? '', /<img src=x onerror="window\.pwned=1">/);
    assert.match((await page.locator('h1').textContent()) ?? '', /<img src=x/);
    assert.equal(await page.locator('main img, main script').count(), 0);
    assert.equal(await page.evaluate("'pwned' in window"), false);
    const list = await open('alice', '/');
    await list.locator(`tr[data-job="${job.id}"]`).waitFor();
    assert.equal(await list.locator('main img, main script').count(), 0);
    assert.equal(await list.evaluate("'pwned' in window"), false);
    await page.close();
    await list.close();
  });

  it('keeps a cap on the output a page holds, from the tail, with the whole output a download away', async () => {
    // 3 MiB of numbered lines: the page shows the last of them, not the first.
    const job = await server.startJob('alice', {
      command: 'python3',
      args: [
        '-c',
        "import sys\nfor n in range(100000): sys.stdout.write('line %07d %s\\n' % (n, 'x' * 16))",
      ],
    });
    await server.waitForEnd('alice', job.id);
    const page = await open('alice', `/jobs/${job.id}`);
    const output = page.locator('pre.output');
    await output.getByText('line 0099999').waitFor();
    const kept = ((await output.textContent()) ?? '').length;
    assert.ok(kept <= KEEP_CHARS, `kept ${kept} characters`);
    assert.equal(await output.getByText('line 0000000 ').count(), 0);
    await page.getByText('Earlier output is not shown here').waitFor();
    const download = page.getByRole('link', { name: 'download whole output' });
    assert.equal(await download.getAttribute('href'), `/v1/jobs/${job.id}/output`);
    const whole = await page.evaluate(
      async (href) => (await fetch(href)).text(),
      `/v1/jobs/${job.id}/output`,
    );
    assert.equal(whole.length, 100000 * 30);

    // A job that writes fast for as long as it runs: the page stays bounded and responsive.
    const flood = await server.startJob('alice', { command: 'yes', args: ['flood'] });
    const live = await open('alice', `/jobs/${flood.id}`);
    await live.getByText('Earlier output is not shown here').waitFor({ timeout: 30_000 });
    for (let check = 0; check < 3; check += 1) {
      const started = Date.now();
      const length = ((await live.locator('pre.output').textContent()) ?? '').length;
      assert.ok(length <= KEEP_CHARS + 64 * 1024, `kept ${length} characters`);
      assert.ok(Date.now() - started < 10_000, 'the tab answers');
    }
    await live.getByRole('button', { name: 'Stop' }).click();
    await live.locator('#status', { hasText: 'stopped' }).waitFor();
    await page.close();
    await live.close();
  });

  it('shows admins the host, and admins and auditors the audit trail and its verification', async () => {
    // A record for the trail to show, should this test run alone.
    await server.startJob('alice', { command: 'true' });
    const admin = await open('admin', '/');
    // Tabs, one shown at a time, instead of one long page: the jobs first.
    await admin.locator('table.jobs').waitFor();
    assert.equal(await admin.locator('#host').isVisible(), false);
    assert.equal(await admin.locator('#audit').isVisible(), false);
    await admin.getByRole('tab', { name: 'Host' }).click();
    await admin.locator('#host').getByText('PID namespace').waitFor();
    assert.equal(await admin.locator('table.jobs').isVisible(), false);
    await admin.getByRole('tab', { name: 'Audit' }).click();
    assert.match(admin.url(), /\?tab=audit$/);
    await admin.getByRole('button', { name: 'Verify the chain' }).click();
    await admin.locator('#audit-verdict', { hasText: 'The chain verifies' }).waitFor();
    // The address keeps the tab: a reload opens it again.
    await admin.reload();
    await admin.getByRole('button', { name: 'Verify the chain' }).waitFor();
    assert.equal(
      await admin.getByRole('tab', { name: 'Audit' }).getAttribute('aria-selected'),
      'true',
    );
    const auditor = await open('auditor', '/');
    await auditor.getByRole('tab', { name: 'Audit' }).click();
    await auditor.getByRole('button', { name: 'Verify the chain' }).click();
    await auditor.locator('#audit-verdict', { hasText: 'The chain verifies' }).waitFor();
    await auditor.locator('table.audit tbody tr').first().waitFor();
    assert.equal(await auditor.locator('#host').count(), 0, 'capacity is for admins');
    assert.equal(await auditor.locator('#start').count(), 0, 'auditors start nothing');
    const alice = await open('alice', '/');
    await alice.locator('table.jobs').waitFor();
    assert.equal(await alice.locator('#host, #audit').count(), 0);
    assert.deepEqual(await alice.getByRole('tab').allTextContents(), ['Jobs', 'Volumes']);
    for (const page of [admin, auditor, alice]) await page.close();
  });

  it("lists the caller's volumes with their size and use, and a link that downloads one", async () => {
    const made = await server.request('alice', 'POST', '/v1/volumes', {
      json: { name: 'site', size: '32M' },
    });
    assert.equal(made.status, 201, made.text());
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'head -c 3000000 /dev/zero > /site/blob'],
      volumes: [{ name: 'site', path: '/site' }],
    });
    await server.waitForEnd('alice', job.id);
    const page = await open('alice', '/?tab=volumes');
    const row = page.locator('table.volumes tbody tr', { hasText: 'site' });
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[1], '32.0 MiB');
    assert.match(cells[2] ?? '', /^\d+\.\d MiB \(\d+%\)$/);
    const href = await row.getByRole('link', { name: 'download .tar' }).getAttribute('href');
    assert.equal(href, '/v1/volumes/site/archive?path=%2F');
    const archive = await page.evaluate(async (url) => {
      const answer = await fetch(url);
      return {
        status: answer.status,
        type: answer.headers.get('content-type'),
        size: (await answer.arrayBuffer()).byteLength,
      };
    }, href ?? '');
    assert.deepEqual(
      { status: archive.status, type: archive.type },
      { status: 200, type: 'application/x-tar' },
    );
    assert.ok(archive.size > 3_000_000, `the tar holds the blob: ${archive.size} bytes`);
    await page.close();
    // The job's page says what it mounted (and a re-run would mount it again).
    const jobPage = await open('alice', `/jobs/${job.id}`);
    await jobPage.getByText('site at /site').waitFor();
    await jobPage.close();
    await server.request('alice', 'DELETE', '/v1/volumes/site');
  });

  it("lets an admin watch another client's job (read-only: no stop for an auditor)", async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'echo watched; exec sleep 600'],
    });
    const admin = await open('admin', `/jobs/${job.id}`);
    await admin.locator('pre.output').getByText('watched').waitFor();
    const auditor = await open('auditor', `/jobs/${job.id}`);
    await auditor.locator('pre.output').getByText('watched').waitFor();
    assert.equal(await auditor.getByRole('button', { name: 'Stop' }).count(), 0);
    await admin.getByRole('button', { name: 'Stop' }).click();
    await admin.locator('#status', { hasText: 'stopped' }).waitFor();
    await admin.close();
    await auditor.close();
  });

  it('is under 100 KB on first load and usable 375 px wide', async () => {
    const context = await contextFor(browser, server, 'alice', { width: 375, height: 740 });
    const page = await context.newPage();
    const bodies: Promise<number>[] = [];
    const measure = (response: PlaywrightResponse): void => {
      bodies.push(response.body().then((body) => body.length));
    };
    page.on('response', measure);
    await page.goto(`${origin}/`);
    await page.locator('table.jobs tbody tr').first().waitFor();
    await page.waitForLoadState('networkidle');
    page.off('response', measure);
    const bytes = (await Promise.all(bodies)).reduce((sum, length) => sum + length, 0);
    assert.ok(bytes > 10_000 && bytes < 100 * 1024, `first load: ${bytes} bytes`);
    const overflow = (): Promise<number> =>
      page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok((await overflow()) <= 0, 'no sideways scrolling on the list');
    const job = await server.startJob('alice', { command: 'echo', args: ['x'.repeat(300)] });
    await page.goto(`${origin}/jobs/${job.id}`);
    await page.locator('pre.output').getByText('xxxx').waitFor();
    assert.ok((await overflow()) <= 0, "no sideways scrolling on a job's page");
    await context.close();
  });

  it('answers with a strict CSP and the headers that keep other sites out', async () => {
    const page = await open('alice', '/');
    const response = await page.request.get(`${origin}/`);
    const headers = response.headers();
    const csp = headers['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['x-frame-options'], 'DENY');
    const api = (await page.request.get(`${origin}/v1/jobs`)).headers();
    assert.equal(api['x-content-type-options'], 'nosniff');
    assert.equal(api['cross-origin-resource-policy'], 'same-origin');

    // The browser enforces it: a script that is not a file of this origin does not run (Trusted
    // Types refuse its text outright, or the CSP refuses to run it).
    const blocked = await page.evaluate(`new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation', () => resolve(true), { once: true });
      try {
        const script = document.createElement('script');
        script.textContent = 'window.inlineRan = true';
        document.body.append(script);
      } catch {
        resolve(true);
      }
      setTimeout(() => resolve(false), 1000);
    })`);
    assert.equal(blocked, true, 'the browser refused the inline script');
    const parsed = await page.evaluate(`(() => {
      try { document.body.insertAdjacentHTML('beforeend', '<b id="parsed">x</b>'); return true; }
      catch { return false; }
    })()`);
    assert.equal(parsed, false, 'Trusted Types refused a string of HTML');
    assert.equal(await page.evaluate("'inlineRan' in window"), false);
    await page.close();
  });

  describe('from another site', () => {
    let site: Server;
    let page = '';
    let siteOrigin = '';

    before(async () => {
      site = createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html' }).end(page);
      });
      site.listen(0, '127.0.0.1');
      await once(site, 'listening');
      const address = site.address();
      siteOrigin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    });
    after(() => {
      site.close();
    });

    it('cannot frame the console (to trick a click on Stop or Delete)', async () => {
      const job = await server.startJob('alice', { command: 'sleep', args: ['600'] });
      page = `<!doctype html><iframe id="console" src="${origin}/jobs/${job.id}"></iframe>`;
      const tab = await (await contextOf('alice')).newPage();
      await tab.goto(`${siteOrigin}/`);
      await tab.waitForLoadState('load');
      const frame = tab.frames().find((candidate) => candidate !== tab.mainFrame());
      assert.ok(frame, 'the iframe');
      // Chromium replaces a refused frame with its own error page: nothing of the console loads.
      assert.equal(await frame.locator('button, pre.output').count(), 0);
      assert.notEqual(frame.url(), `${origin}/jobs/${job.id}`);
      await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
      await tab.close();
    });

    it("cannot watch alice's job output over a WebSocket from its page", async () => {
      const job = await server.startJob('alice', { command: 'echo', args: ['private-4e1f'] });
      await server.waitForEnd('alice', job.id);
      const url = `wss://localhost:${server.port}/v1/jobs/${job.id}/attach?stdin=false`;
      page = `<!doctype html><title>working</title><script>
        const socket = new WebSocket(${JSON.stringify(url)}, 'v5.channel.k8s.io');
        let received = 0;
        socket.onmessage = () => { received += 1; };
        socket.onclose = () => { document.title = 'closed ' + received; };
      </script>`;
      const tab = await (await contextOf('alice')).newPage();
      await tab.goto(`${siteOrigin}/`);
      await tab.waitForFunction('document.title.startsWith("closed")');
      assert.equal(await tab.title(), 'closed 0', 'no message reached the other site');
      assert.ok(await refusalAudited(server, 'alice', `/v1/jobs/${job.id}/attach`));
      await tab.close();
    });

    it('cannot start a job with the certificate the browser holds', async () => {
      const before = (await server.request('alice', 'GET', '/v1/jobs')).json<{ jobs: unknown[] }>();
      page = `<!doctype html><title>working</title><script>
        fetch(${JSON.stringify(`${origin}/v1/jobs`)}, {
          method: 'POST', mode: 'no-cors', credentials: 'include',
          headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({ command: 'touch', args: ['/tmp/pwned'] }),
        }).finally(() => { document.title = 'done'; });
      </script>`;
      const tab = await (await contextOf('alice')).newPage();
      await tab.goto(`${siteOrigin}/`);
      await tab.waitForFunction('document.title === "done"');
      const afterwards = (await server.request('alice', 'GET', '/v1/jobs')).json<{
        jobs: unknown[];
      }>();
      assert.equal(afterwards.jobs.length, before.jobs.length, 'no job was started');
      await tab.close();
    });
  });
});
