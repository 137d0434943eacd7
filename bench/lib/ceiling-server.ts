// The ceiling for any Node.js server on this machine: a minimal HTTPS server, with the same mutual
// TLS as the project's server, that answers every request with one file streamed from disk with
// 1 MiB reads and nothing else (no routing, no auth checks, no follow logic). Run as a child
// process so it has a core of its own, like the real server. The throughput scenario reads a file
// of the job's size from it with the same client, which tells how much of the gap to the pipe is
// Node's TLS and HTTP stack and how much is the project's server.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CeilingServer {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

const READ_BYTES = 1024 * 1024;

export async function startCeilingServer(certsDir: string, file: string): Promise<CeilingServer> {
  const child = fork(fileURLToPath(import.meta.url), [certsDir, file], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [{ port: number }];
  return {
    port: message.port,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function serve(certsDir: string, file: string): void {
  const server = createServer(
    {
      key: readFileSync(join(certsDir, 'server-key.pem')),
      cert: readFileSync(join(certsDir, 'server.pem')),
      ca: readFileSync(join(certsDir, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    },
    (request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      createReadStream(file, { highWaterMark: READ_BYTES }).pipe(response);
    },
  );
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
  });
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close();
    process.disconnect?.();
  });
}

if (import.meta.main) {
  const [certsDir, file] = process.argv.slice(2);
  if (certsDir === undefined || file === undefined) throw new Error('usage: CERTS_DIR FILE');
  serve(certsDir, file);
}
