// A client whose request body the server refuses part way reads the refusal, not EPIPE (issue 36):
// the server reads and drops the rest of the body, within bounds, before it closes, as nginx's
// lingering close does. Closing at once made the kernel reset the connection under the client,
// which then lost the answer it had not read yet.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';

const BODY_BYTES = 8 * 1024 * 1024;
const PIECE = Buffer.alloc(64 * 1024, 'x');

interface Outcome {
  readonly status: number | undefined;
  readonly body: string;
  readonly error: string | undefined;
}

/**
 * Sends `BODY_BYTES` as a naive uploader does, writing on after the answer has come, and says
 * what it read: the answer's status and body, and any error on the way.
 */
function upload(server: TestServer, method: string, path: string, type: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let status: number | undefined;
    let body = '';
    let settled = false;
    const settle = (error?: Error): void => {
      if (settled) return;
      settled = true;
      request.destroy();
      resolve({ status, body, error: error?.message });
    };
    const request = httpsRequest({
      host: '127.0.0.1',
      port: server.port,
      method,
      path,
      headers: { 'content-type': type, 'content-length': String(BODY_BYTES) },
      agent: false,
      ...server.credentials('alice'),
      servername: 'localhost',
    });
    request.once('error', settle);
    request.once('response', (response: IncomingMessage) => {
      status = response.statusCode;
      response.setEncoding('utf8');
      response.on('data', (text: string) => (body += text));
      response.once('end', () => settle());
      response.once('error', settle);
    });
    let written = 0;
    const writeOn = (): void => {
      while (written < BODY_BYTES && !settled) {
        written += PIECE.length;
        if (!request.write(PIECE)) return void request.once('drain', writeOn);
      }
      if (!settled) request.end();
    };
    writeOn();
  });
}

describe('a refused request body is drained before the connection closes', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('lets a client writing 8 MiB into a closed input read the 409', async () => {
    const job = await server.startJob('alice', { command: 'sleep', args: ['30'], stdin: true });
    const ended = await server.request('alice', 'PUT', `/v1/jobs/${job.id}/stdin`, { body: '' });
    assert.equal(ended.status, 204, 'the input is ended: later writers are refused');
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const outcome = await upload(server, 'PUT', `/v1/jobs/${job.id}/stdin`, 'text/plain');
      assert.equal(outcome.error, undefined, `attempt ${attempt}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.status, 409);
      assert.equal((JSON.parse(outcome.body) as { code: string }).code, 'INPUT_CLOSED');
    }
    await server.request('alice', 'POST', `/v1/jobs/${job.id}/stop`);
  });

  it('lets a client sending 8 MiB of JSON read the 413', async () => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const outcome = await upload(server, 'POST', '/v1/jobs', 'application/json');
      assert.equal(outcome.error, undefined, `attempt ${attempt}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.status, 413);
      assert.equal((JSON.parse(outcome.body) as { code: string }).code, 'PAYLOAD_TOO_LARGE');
    }
  });
});
