// Every endpoint × every role × owner or not, generated from one table of expectations, plus the
// rule that another client's job is indistinguishable from one that does not exist.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

type Role = 'admin' | 'user' | 'auditor';
const CLIENT_OF: Record<Role, string> = { admin: 'admin', user: 'bob', auditor: 'auditor' };

interface Endpoint {
  readonly name: string;
  readonly method: string;
  readonly path: (id: string) => string;
  readonly body?: unknown;
  /** Expected status for [role] when the job is alice's (bob is a non-owner user). */
  readonly expected: Record<Role, number>;
  /** Expected status for alice on her own job. */
  readonly owner: number;
  /** Needs a job that is still running (stop) or one that has ended (delete). */
  readonly needs: 'running' | 'ended';
}

const ENDPOINTS: readonly Endpoint[] = [
  {
    name: 'inspect',
    method: 'GET',
    path: (id) => `/v1/jobs/${id}`,
    expected: { admin: 200, user: 404, auditor: 200 },
    owner: 200,
    needs: 'ended',
  },
  {
    name: 'output',
    method: 'GET',
    path: (id) => `/v1/jobs/${id}/output`,
    expected: { admin: 200, user: 404, auditor: 200 },
    owner: 200,
    needs: 'ended',
  },
  {
    name: 'stop',
    method: 'POST',
    path: (id) => `/v1/jobs/${id}/stop`,
    expected: { admin: 202, user: 404, auditor: 403 },
    owner: 202,
    needs: 'running',
  },
  {
    name: 'delete',
    method: 'DELETE',
    path: (id) => `/v1/jobs/${id}`,
    expected: { admin: 204, user: 404, auditor: 403 },
    owner: 204,
    needs: 'ended',
  },
  {
    // Not a job's: the host's images, which every role may list (jobctl images).
    name: 'images',
    method: 'GET',
    path: () => '/v1/images',
    expected: { admin: 200, user: 200, auditor: 200 },
    owner: 200,
    needs: 'ended',
  },
];

describe('authorization: endpoint × role × ownership', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  async function aliceJob(needs: 'running' | 'ended'): Promise<Job> {
    if (needs === 'running') return server.startJob('alice', { command: 'sleep', args: ['600'] });
    const job = await server.startJob('alice', { command: 'echo', args: ['hi'] });
    return server.waitForEnd('alice', job.id);
  }

  for (const endpoint of ENDPOINTS) {
    for (const role of Object.keys(CLIENT_OF) as Role[]) {
      it(`${role} ${endpoint.name} on another client's job → ${endpoint.expected[role]}`, async () => {
        const job = await aliceJob(endpoint.needs);
        const response = await server.request(
          CLIENT_OF[role],
          endpoint.method,
          endpoint.path(job.id),
        );
        assert.equal(response.status, endpoint.expected[role], response.text());
        if (response.status >= 400) {
          assert.equal(response.headers['content-type'], 'application/problem+json');
        }
        await server.request('admin', 'POST', `/v1/jobs/${job.id}/stop`);
      });
    }
    it(`owner ${endpoint.name} on own job → ${endpoint.owner}`, async () => {
      const job = await aliceJob(endpoint.needs);
      const response = await server.request('alice', endpoint.method, endpoint.path(job.id));
      assert.equal(response.status, endpoint.owner, response.text());
      await server.request('admin', 'POST', `/v1/jobs/${job.id}/stop`);
    });
  }

  it('start: admin and users may, auditors may not', async () => {
    for (const [client, status] of [
      ['admin', 201],
      ['alice', 201],
      ['bob', 201],
      ['auditor', 403],
    ] as const) {
      const response = await server.request(client, 'POST', '/v1/jobs', {
        json: { command: 'true' },
      });
      assert.equal(response.status, status, `${client}: ${response.text()}`);
    }
  });

  it("list: users see only their own jobs; admin and auditor see everyone's", async () => {
    const alices = await server.startJob('alice', { command: 'true' });
    const bobs = await server.startJob('bob', { command: 'true' });
    const owners = async (client: string): Promise<Set<string>> =>
      new Set(
        (await server.request(client, 'GET', '/v1/jobs'))
          .json<{ jobs: Job[] }>()
          .jobs.map((job) => job.owner),
      );
    assert.deepEqual(await owners('bob'), new Set(['bob']));
    assert.deepEqual(await owners('alice'), new Set(['alice']));
    for (const client of ['admin', 'auditor']) {
      const seen = await owners(client);
      assert.ok(seen.has('alice') && seen.has('bob'), `${client} sees both`);
    }
    await server.waitForEnd('alice', alices.id);
    await server.waitForEnd('bob', bobs.id);
  });

  it("another client's job and an unknown id give the same 404 body", async () => {
    const job = await server.startJob('alice', { command: 'true' });
    const unknown = randomUUID();
    for (const suffix of ['', '/output', '/stop']) {
      const method = suffix === '/stop' ? 'POST' : 'GET';
      const theirs = await server.request('bob', method, `/v1/jobs/${job.id}${suffix}`);
      const missing = await server.request('bob', method, `/v1/jobs/${unknown}${suffix}`);
      assert.equal(theirs.status, 404);
      assert.equal(missing.status, 404);
      const strip = (body: Record<string, unknown>): Record<string, unknown> => {
        const { detail, ...rest } = body;
        delete rest.requestId;
        delete rest.instance;
        return { ...rest, detail: String(detail).replace(job.id, 'ID').replace(unknown, 'ID') };
      };
      assert.deepEqual(strip(theirs.json()), strip(missing.json()));
    }
    await server.waitForEnd('alice', job.id);
  });
});
