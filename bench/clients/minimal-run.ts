// The least a Node.js client can do to run a command remotely: one `POST /v1/jobs?follow=true`
// over a new mutual-TLS connection, the output copied to stdout, the job's exit code (an HTTP
// trailer) as its own. No options, no messages, nothing loaded but node:https. The round-trip
// scenario runs it (stripped to JavaScript) as the floor under jobctl: what remains is Node's
// start-up, the TLS handshake and the server.
//   node minimal-run.js https://HOST:PORT CA CERT KEY COMMAND [ARG...]
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

const [server, ca, cert, key, command, ...args] = process.argv.slice(2);
if (server === undefined || ca === undefined || cert === undefined || key === undefined) {
  process.stderr.write('usage: minimal-run URL CA CERT KEY COMMAND [ARG...]\n');
  process.exit(2);
}
const url = new URL('/v1/jobs?follow=true', server);
const body = JSON.stringify({ command, args });
const req = request(url, {
  method: 'POST',
  ca: readFileSync(ca),
  cert: readFileSync(cert),
  key: readFileSync(key),
  headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  // One request: no keep-alive socket to wait for before exiting.
  agent: false,
});
req.on('response', (response) => {
  if (response.statusCode !== 201) {
    process.stderr.write(`minimal-run: HTTP ${response.statusCode}\n`);
    process.exitCode = 125;
  }
  response.pipe(process.stdout, { end: false });
  response.on('end', () => {
    const code = Number(response.trailers['job-exit-code']);
    if (process.exitCode === undefined) process.exitCode = Number.isInteger(code) ? code : 255;
  });
});
req.on('error', (error) => {
  process.stderr.write(`minimal-run: ${error.message}\n`);
  process.exitCode = 125;
});
req.end(body);
