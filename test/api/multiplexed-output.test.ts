// stdout and stderr told apart in one response, for a client that asks with
// `Accept: application/vnd.jobworker.multiplexed-stream` (Docker's frames): what `jobctl run -f`
// reads, so that starting and following a job is one request. Curl's `*/*` still gets bytes.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  FrameDecoder,
  MULTIPLEXED_STREAM,
  type Frame,
} from '../../src/contract/multiplexed-stream.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

const MULTIPLEXED = { accept: MULTIPLEXED_STREAM };

/** The frames of a whole multiplexed body, adjacent frames of one stream joined. */
function framesOf(body: Buffer): { stream: string; text: string }[] {
  const joined: { stream: string; text: string }[] = [];
  const decoder = new FrameDecoder();
  for (const frame of decoder.push(body)) {
    const last = joined.at(-1);
    if (last?.stream === frame.stream) last.text += frame.payload.toString();
    else joined.push({ stream: frame.stream, text: frame.payload.toString() });
  }
  assert.equal(decoder.pendingBytes, 0, 'the body ends with a whole frame');
  return joined;
}

/** Reads frames off a response as they come, until `until` is seen in a stream. */
async function readUntil(response: IncomingMessage, until: string): Promise<Frame[]> {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  for await (const chunk of response) {
    frames.push(...decoder.push(chunk as Buffer));
    if (frames.some((frame) => frame.payload.toString().includes(until))) return frames;
  }
  return frames;
}

describe('output multiplexed in one response', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('POST ?follow=true tells the streams apart, in the order written, then how the job ended', async () => {
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: {
        command: 'sh',
        // Pauses in the job itself, so each line is read on its own: the order is the job's.
        args: ['-c', 'echo out1; sleep 0.5; echo err >&2; sleep 0.5; echo out2; exit 3'],
      },
      headers: MULTIPLEXED,
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers['content-type'], MULTIPLEXED_STREAM);
    assert.equal(response.headers.vary, 'Accept');
    assert.deepEqual(framesOf(response.body), [
      { stream: 'stdout', text: 'out1\n' },
      { stream: 'stderr', text: 'err\n' },
      { stream: 'stdout', text: 'out2\n' },
    ]);
    assert.equal(response.trailers['job-status'], 'exited');
    assert.equal(response.trailers['job-exit-code'], '3');
    assert.equal(response.trailers['job-signal'], '');
    assert.equal(response.trailers['job-oom-killed'], 'false');
  });

  it('gives curl (any type) the bytes, as before', async () => {
    const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'sh', args: ['-c', 'echo out; echo err >&2'] },
      headers: { accept: '*/*' },
    });
    assert.equal(response.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(response.text().split('\n').sort(), ['', 'err', 'out']);
  });

  it('sends the headers before any output, so a job waiting for input can be given it', async () => {
    // The job prints nothing until it has input: without the headers, the client could not
    // learn the job's id to send it any, and both would wait for ever.
    const response = await server.open('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'head', args: ['-n', '1'], stdin: true },
      headers: MULTIPLEXED,
    });
    assert.equal(response.statusCode, 201);
    const id = response.headers['job-id'];
    assert.equal(typeof id, 'string');
    const input = await server.request('alice', 'PUT', `/v1/jobs/${String(id)}/stdin`, {
      body: 'ping\n',
    });
    assert.equal(input.status, 204);
    const frames = await readUntil(response, 'ping');
    assert.deepEqual(
      frames.map((frame) => [frame.stream, frame.payload.toString()]),
      [['stdout', 'ping\n']],
    );
  });

  it('GET .../output?stream=all answers the same way, from any offset of the whole output', async () => {
    const started = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
      json: { command: 'sh', args: ['-c', 'printf abc; sleep 0.2; printf XY >&2'] },
    });
    const id = String(started.headers['job-id']);
    const all = await server.request('alice', 'GET', `/v1/jobs/${id}/output?stream=all`, {
      headers: MULTIPLEXED,
    });
    assert.deepEqual(framesOf(all.body), [
      { stream: 'stdout', text: 'abc' },
      { stream: 'stderr', text: 'XY' },
    ]);
    const fromOffset = await server.request(
      'alice',
      'GET',
      `/v1/jobs/${id}/output?stream=all&offset=2`,
      { headers: MULTIPLEXED },
    );
    assert.deepEqual(framesOf(fromOffset.body), [
      { stream: 'stdout', text: 'c' },
      { stream: 'stderr', text: 'XY' },
    ]);
    // One stream is its bytes: there is nothing to tell apart.
    const stderr = await server.request('alice', 'GET', `/v1/jobs/${id}/output?stream=stderr`, {
      headers: MULTIPLEXED,
    });
    assert.equal(stderr.headers['content-type'], 'application/octet-stream');
    assert.equal(stderr.text(), 'XY');
  });

  it("never shows another client's output, framed or not", async () => {
    const job: Job = await server.startJob('alice', { command: 'echo', args: ['secret'] });
    await server.waitForEnd('alice', job.id);
    const response = await server.request('bob', 'GET', `/v1/jobs/${job.id}/output?stream=all`, {
      headers: MULTIPLEXED,
    });
    assert.equal(response.status, 404);
    assert.equal(response.headers['content-type'], 'application/problem+json');
    assert.doesNotMatch(response.text(), /secret/);
  });
});
