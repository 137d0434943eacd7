// Reads a browser sends from another site's page are refused like writes, with the Fetch Metadata
// and Origin headers a browser would send set by hand: a GET marked `cross-site` or `same-site`
// is a 403 CROSS_SITE_REQUEST that neither runs as alice nor spends her rate limit, unless it is
// a navigation to one of the console's pages (a link followed), which still opens it; requests
// without those headers (curl, jobctl) or from the server's own pages are served as before.
// (The same in a real browser: cross-site-browser.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

/** What Chromium sends for each way another site's page can make a browser ask. */
const FROM_ANOTHER_SITE: Readonly<Record<string, Record<string, string>>> = {
  '<img>': {
    'sec-fetch-site': 'cross-site',
    'sec-fetch-mode': 'no-cors',
    'sec-fetch-dest': 'image',
  },
  '<script>': {
    'sec-fetch-site': 'cross-site',
    'sec-fetch-mode': 'no-cors',
    'sec-fetch-dest': 'script',
  },
  'no-cors fetch': {
    'sec-fetch-site': 'cross-site',
    'sec-fetch-mode': 'no-cors',
    'sec-fetch-dest': 'empty',
  },
  '<iframe>': {
    'sec-fetch-site': 'cross-site',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'iframe',
  },
  'a sibling subdomain': {
    'sec-fetch-site': 'same-site',
    'sec-fetch-mode': 'cors',
    'sec-fetch-dest': 'empty',
  },
  'a browser without Fetch Metadata': { origin: 'https://evil.example' },
};

const NAVIGATION = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };

interface AuditRecord {
  action: string;
  status: number;
  details: { path?: string };
}

describe('cross-site reads', () => {
  let server: TestServer;
  let job: Job;
  let reads: string[];

  before(async () => {
    server = await startServer();
    job = await server.waitForEnd(
      'alice',
      (await server.startJob('alice', { command: 'echo', args: ['secret'] })).id,
    );
    reads = [
      '/healthz',
      '/v1/jobs?limit=1000',
      `/v1/jobs/${job.id}`,
      `/v1/jobs/${job.id}/output`,
      '/v1/limits',
      '/openapi.json',
      '/ui/app.js',
      '/',
    ];
  });
  after(async () => {
    await server.dispose();
  });

  /** How many of alice's audit records are reads of her job's output, and refusals of one. */
  async function outputRecords(): Promise<{ read: number; refused: number }> {
    // Records are appended in a queue after the answers; a verification is taken in that queue,
    // so once it has answered, every record queued before it is in the log.
    await server.request('admin', 'GET', '/v1/audit/verify');
    const response = await server.request('auditor', 'GET', '/v1/audit?client=alice&limit=1000');
    const records = response.json<{ records: AuditRecord[] }>().records;
    const output = `/v1/jobs/${job.id}/output`;
    return {
      read: records.filter((record) => record.action === 'job.output').length,
      refused: records.filter(
        (record) => record.action === 'auth.denied' && record.details.path === output,
      ).length,
    };
  }

  it('refuses every read another site makes a browser send, before it runs or costs alice anything', async () => {
    const before = await outputRecords();
    const served: string[] = [];
    for (const [how, headers] of Object.entries(FROM_ANOTHER_SITE)) {
      for (const path of reads) {
        for (const method of ['GET', 'HEAD']) {
          const answer = await server.request('alice', method, path, { headers });
          if (answer.status !== 403) served.push(`${how}: ${method} ${path} → ${answer.status}`);
          else if (method === 'GET') assert.equal(answer.json().code, 'CROSS_SITE_REQUEST');
          // Refused before the rate limiter: her budget is not spent, so it is not announced.
          assert.equal(answer.headers.ratelimit, undefined, `${how}: ${path}`);
        }
      }
    }
    assert.deepEqual(served, []);
    const after = await outputRecords();
    assert.equal(after.read, before.read, 'her output was not read as her');
    const refusals = Object.keys(FROM_ANOTHER_SITE).length * 2;
    assert.equal(after.refused - before.refused, refusals, 'each refusal is audited');
  });

  it('refuses a navigation from another site to anything but a page of the console', async () => {
    for (const site of ['cross-site', 'same-site']) {
      const headers = { ...NAVIGATION, 'sec-fetch-site': site };
      for (const path of ['/v1/jobs', `/v1/jobs/${job.id}/output`, '/healthz', '/ui/app.js']) {
        const answer = await server.request('alice', 'GET', path, { headers });
        assert.equal(answer.status, 403, `${site} navigation to ${path}`);
      }
    }
  });

  it("opens the console's pages when a link on another site is followed", async () => {
    for (const site of ['cross-site', 'same-site']) {
      for (const path of ['/', `/jobs/${job.id}`]) {
        const answer = await server.request('alice', 'GET', path, {
          headers: { ...NAVIGATION, 'sec-fetch-site': site, 'sec-fetch-user': '?1' },
        });
        assert.equal(answer.status, 200, `${site} navigation to ${path}`);
        assert.match(String(answer.headers['content-type']), /^text\/html/);
      }
    }
  });

  it('serves reads from its own pages, the address bar, curl and jobctl', async () => {
    const own = {
      'sec-fetch-site': 'same-origin',
      'sec-fetch-mode': 'cors',
      'sec-fetch-dest': 'empty',
    };
    for (const headers of [
      own,
      { ...own, origin: `https://127.0.0.1:${server.port}` },
      { ...NAVIGATION, 'sec-fetch-site': 'none' },
      {},
    ]) {
      for (const path of reads) {
        const answer = await server.request('alice', 'GET', path, { headers });
        assert.equal(answer.status, 200, `${JSON.stringify(headers)} ${path}`);
      }
    }
  });
});
