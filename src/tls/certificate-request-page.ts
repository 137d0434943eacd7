// What a connection that presented no client certificate gets: one small page saying how to get
// and load one, whatever it asked for, and then its connection closed. A browser's user saw
// Chromium's "This site can't be reached" before, with nothing to say the server was there and
// wanted a certificate. The page is written here, on the TLS socket, and never by Koa: such a
// connection reaches no route, no console file and no API, and learns nothing but this text.
// It stays in the handshake budget (tls/handshake-budget.ts) until it closes, so a crowd of
// them costs what a crowd of unfinished handshakes does, and its deadline closes it.
import type { TLSSocket } from 'node:tls';

/** The most of a request's head read before the page is sent anyway. */
const MAX_HEAD_BYTES = 16 * 1024;

/** How long a client may keep the connection once the page is written, to read it. */
const LINGER_MS = 1000;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A client certificate is needed · jobworker</title>
</head>
<body>
<h1>This server needs a client certificate</h1>
<p>This jobworker server lets in only browsers and programs that present a client certificate
issued by its certificate authority. Your browser presented none.</p>
<ol>
<li>Get your client's PKCS#12 bundle from the server's operator:
<code>certs/clients/NAME/client.p12</code> and its password (<code>npm run certs -- client NAME
--role user</code> writes one; the development clients' bundles, made when the server first
starts, have the password <code>jobworker</code>).</li>
<li>Load it into the browser. Chromium and Chrome: Settings, Privacy and security, Security,
Manage certificates, Your certificates, Import. Firefox: Settings, Privacy &amp; Security,
Certificates, View Certificates, Your Certificates, Import.</li>
<li>Quit the browser (it remembers, until then, that it sent no certificate here) and open this
address again.</li>
</ol>
<p>See the section "Web console" of jobworker's README.</p>
</body>
</html>
`;

const BODY = Buffer.from(PAGE);

/** Status 403: the server will not serve this connection; nothing asks the browser to retry. */
const ANSWER = Buffer.concat([
  Buffer.from(
    [
      'HTTP/1.1 403 Forbidden',
      'Content-Type: text/html; charset=utf-8',
      `Content-Length: ${BODY.length}`,
      'Connection: close',
      'Cache-Control: no-store',
      "Content-Security-Policy: default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options: nosniff',
      'X-Frame-Options: DENY',
      'Referrer-Policy: no-referrer',
      '',
      '',
    ].join('\r\n'),
  ),
  BODY,
]);

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Answers the connection's first request (read to the end of its head, or its first 16 KiB) with
 * the page and closes it. What the client sends after is read and dropped, so the close is a FIN
 * the browser reads the page before, not a reset that loses it.
 */
export function answerWithCertificateRequest(socket: TLSSocket): void {
  let head = Buffer.alloc(0);
  let answered = false;
  let linger: NodeJS.Timeout | undefined;
  // A reset by the client is its business: nothing else listens to this socket.
  socket.on('error', () => {});
  socket.once('close', () => clearTimeout(linger));
  socket.on('data', (chunk: Buffer) => {
    if (answered) return;
    head = Buffer.concat([head, chunk]);
    if (head.includes(HEAD_END) || head.length >= MAX_HEAD_BYTES) answer();
  });

  function answer(): void {
    answered = true;
    head = Buffer.alloc(0);
    socket.end(ANSWER);
    linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
  }
}
