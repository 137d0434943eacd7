// A hostile peer without a certificate: connections that connect and never send a byte, each
// reopened a moment after the server closes it. It runs in a process of its own, as a peer on
// another host would: in the test's own process it would starve the clients the test measures.
// Run as a program (`node silent-flood.ts PORT CONNECTIONS REOPEN_MS`), it floods until its
// standard input closes, then prints how many connections it opened and exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { inheritedEnv } from './server.ts';

/** Connections opened per tick while the flood starts: as fast as the server takes them. */
const RAMP = { connections: 250, everyMs: 50 } as const;

export interface FloodCounts {
  /** Connections that were established. */
  readonly opened: number;
  /** Of those, how many the server closed while the flood ran. */
  readonly closedByServer: number;
}

export class SilentFlood {
  readonly #child: ChildProcess;
  readonly #output: Promise<string>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    this.#output = once(child, 'exit').then(() => Buffer.concat(chunks).toString('utf8'));
  }

  static start(port: number, connections: number, reopenMs: number): SilentFlood {
    const child = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), String(port), String(connections), String(reopenMs)],
      { env: inheritedEnv(), stdio: ['pipe', 'pipe', 'inherit'] },
    );
    return new SilentFlood(child);
  }

  /** Ends the flood, every connection closed; resolves with what it did. */
  async stop(): Promise<FloodCounts> {
    this.#child.stdin?.end();
    return JSON.parse(await this.#output) as FloodCounts;
  }
}

/** The flood itself, in the child. */
function flood(port: number, connections: number, reopenMs: number): void {
  let stopping = false;
  let opened = 0;
  let closedByServer = 0;
  const open = (): void => {
    if (stopping) return;
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (opened += 1));
    socket.on('error', () => {});
    socket.once('close', () => {
      if (stopping) return;
      closedByServer += 1;
      setTimeout(open, reopenMs);
    });
  };
  let started = 0;
  const ramp = setInterval(() => {
    for (let i = 0; i < RAMP.connections && started < connections; i += 1, started += 1) open();
    if (started >= connections) clearInterval(ramp);
  }, RAMP.everyMs);
  process.stdin.resume();
  process.stdin.once('end', () => {
    stopping = true;
    clearInterval(ramp);
    process.stdout.write(JSON.stringify({ opened, closedByServer } satisfies FloodCounts));
    // Exiting closes every socket at once, and leaves no timer behind.
    process.exit(0);
  });
}

if (import.meta.main) {
  const [port, connections, reopenMs] = process.argv.slice(2).map(Number);
  flood(port ?? 0, connections ?? 0, reopenMs ?? 0);
}
