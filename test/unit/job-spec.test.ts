// A job's spec as its record keeps it, and back (src/jobs/job-spec.ts): what the store, the audit
// trail and a queued job's launch use in place of a list of the fields each.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobRequestSchema, SETTLED_FIELDS, type JobSpec } from '../../src/jobs/job.ts';
import {
  keptAsAsked,
  RECORDED_SPEC_FIELDS,
  recordedSpecOf,
  specOfRecord,
  specPartOf,
} from '../../src/jobs/job-spec.ts';
import { jobOf } from '../store/store-contract.ts';

const minimal: JobSpec = {
  command: 'true',
  args: [],
  env: {},
  cwd: '/work',
  limits: {},
  sandbox: 'private',
  network: 'none',
  labels: {},
  stdin: false,
  stderr: 'separate',
  volumes: [],
};

const full: JobSpec = {
  command: '/bin/sh',
  args: ['-c', 'read line; echo "$line"'],
  env: { TOKEN: 'secret', HOME: '/work' },
  cwd: '/',
  limits: { memoryBytes: 1 << 26, cpus: 0.5 },
  timeoutMs: 30_000,
  sandbox: 'private',
  image: 'debian',
  network: 'egress',
  labels: { pipeline: '4711' },
  queueTimeoutMs: 60_000,
  stdin: true,
  stderr: 'merged',
  tty: { rows: 40, cols: 120 },
  volumes: [{ name: 'src', path: '/work/src', readOnly: true }],
};

describe("a job's spec and its record", () => {
  it('records what was not asked for as null, and the names of the environment only', () => {
    assert.deepEqual(recordedSpecOf(minimal), {
      command: 'true',
      args: [],
      envNames: [],
      cwd: '/work',
      limits: {},
      timeoutMs: null,
      sandbox: 'private',
      image: null,
      network: 'none',
      labels: {},
      queueTimeoutMs: null,
      tty: null,
      stdin: false,
      stderr: 'separate',
      volumes: [],
    });
    const recorded = recordedSpecOf(full);
    assert.deepEqual(recorded.envNames, ['HOME', 'TOKEN']);
    assert.equal(JSON.stringify(recorded).includes('secret'), false);
  });

  it('gives back the spec a record was made from, with the environment kept apart', () => {
    for (const spec of [minimal, full]) {
      assert.deepEqual(specOfRecord(recordedSpecOf(spec), spec.env), spec);
    }
  });

  it("takes a job's spec part from its record: none of who asked or what became of it", () => {
    const job = jobOf('alice', 1, { status: 'exited', exitCode: 0 });
    const part = specPartOf(job);
    assert.deepEqual(Object.keys(part), RECORDED_SPEC_FIELDS);
    for (const field of ['id', 'owner', 'status', 'exitCode', 'createdAt']) {
      assert.equal(field in part, false, field);
    }
    assert.deepEqual(specOfRecord(part, {}), specOfRecord(job, {}));
  });

  it('keeps the fields of a request no policy settles as they were sent, and only those', () => {
    const request = jobRequestSchema.parse({
      command: 'cat',
      args: ['-'],
      env: { A: '1' },
      image: 'debian',
      labels: { x: 'y' },
      stderr: 'merged',
      stdin: true,
      tty: true,
      ttySize: { rows: 2, cols: 3 },
      timeout: '5s',
      limits: { memory: '64M' },
    });
    assert.deepEqual(keptAsAsked(request), {
      command: 'cat',
      args: ['-'],
      env: { A: '1' },
      image: 'debian',
      labels: { x: 'y' },
      stderr: 'merged',
      stdin: true,
      volumes: [],
    });
    for (const field of SETTLED_FIELDS) assert.equal(field in keptAsAsked(request), false);
  });
});
