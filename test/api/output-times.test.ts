// The server keeps a time per piece of output (issue 36): `?since=` starts a job's output at the
// first piece written at or after a time, and `?timestamps=true` starts each line with its time,
// as `docker logs --since/--timestamps` do; both also on the multiplexed stream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FrameDecoder, MULTIPLEXED_STREAM } from '../../src/contract/multiplexed-stream.ts';
import { parseRfc3339, rfc3339Nanos } from '../../src/worker/output-times.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

const RFC3339_NANOS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;
const LINES = ['line1', 'line2', 'line3', 'line4', 'line5', 'line6'];

describe('output times', () => {
  let server: TestServer;
  let job: Job;
  before(async () => {
    server = await startServer();
    const started = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'for i in 1 2 3 4 5 6; do echo line$i; echo err$i >&2; sleep 0.3; done'],
    });
    job = await server.waitForEnd('alice', started.id);
  });
  after(async () => {
    await server.dispose();
  });

  async function output(query: string): Promise<string> {
    const response = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output?${query}`);
    assert.equal(response.status, 200, response.text());
    return response.text();
  }

  /** Each stdout line's time and text, with ?timestamps=true. */
  async function timedLines(): Promise<{ time: string; text: string }[]> {
    const text = await output('stream=stdout&timestamps=true');
    return text
      .trimEnd()
      .split('\n')
      .map((line) => {
        const [time = '', ...rest] = line.split(' ');
        return { time, text: rest.join(' ') };
      });
  }

  it('prefixes each line with its RFC 3339 time in nanoseconds, increasing', async () => {
    const lines = await timedLines();
    assert.deepEqual(
      lines.map((line) => line.text),
      LINES,
    );
    for (const { time } of lines) assert.match(time, RFC3339_NANOS);
    const times = lines.map(({ time }) => Date.parse(time));
    for (let i = 1; i < times.length; i += 1) {
      assert.ok(
        times[i]! - times[i - 1]! >= 250,
        `line ${i + 1} about 300 ms after: ${times.join(', ')}`,
      );
    }
    const all = (await output('timestamps=true')).trimEnd().split('\n');
    assert.equal(all.length, 12, 'both streams, each line timed');
    for (const line of all) assert.match(line.split(' ')[0] ?? '', RFC3339_NANOS);
  });

  it('starts at the first piece written at or after ?since', async () => {
    const third = (await timedLines())[2]!.time;
    assert.equal(await output(`stream=stdout&since=${third}`), 'line3\nline4\nline5\nline6\n');
    // A nanosecond later: the third line was written before it.
    const later = rfc3339Nanos(parseRfc3339(third)! + 1n);
    assert.match(await output(`stream=stdout&since=${later}`), /^line4\n/);
    assert.equal(await output('since=2000-01-01T00:00:00Z'), await output(''));
    assert.equal(await output('since=2999-01-01T00:00:00%2B02:00'), '');
  });

  it('does both on the multiplexed stream, each stream in its frames', async () => {
    const third = (await timedLines())[2]!.time;
    const response = await server.request(
      'alice',
      'GET',
      `/v1/jobs/${job.id}/output?since=${third}&timestamps=true`,
      { headers: { accept: MULTIPLEXED_STREAM } },
    );
    assert.equal(response.headers['content-type'], MULTIPLEXED_STREAM);
    const frames = new FrameDecoder().push(response.body);
    const stdout = frames.filter((frame) => frame.stream === 'stdout');
    const stderr = frames.filter((frame) => frame.stream === 'stderr');
    const text = (list: typeof frames): string =>
      list.map((frame) => frame.payload.toString()).join('');
    assert.match(text(stdout), new RegExp(`^${third.replace(/\./g, '\\.')} line3\n`));
    assert.match(text(stderr), /^\S+Z err3\n/);
    assert.equal(text(stdout).split('\n').length - 1, 4);
  });

  it('refuses a since that is not a time, naming the parameter', async () => {
    const response = await server.request(
      'alice',
      'GET',
      `/v1/jobs/${job.id}/output?since=yesterday`,
    );
    assert.equal(response.status, 400);
    assert.match(String(response.json().detail), /\?since: expected an RFC 3339 time/);
  });
});
