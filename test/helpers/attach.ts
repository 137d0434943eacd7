// A test's client of GET /v1/jobs/{id}/attach: the WebSocket with a client's certificate, what
// arrives on each channel, and the job's end as the server reports it on channel 3.
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { ATTACH_PROTOCOL, CHANNEL, type AttachEnd } from '../../src/contract/attach-channels.ts';
import type { TestServer } from './server.ts';

export type AttachResult =
  | {
      readonly kind: 'open';
      readonly session: AttachedSession;
      readonly handshake: IncomingMessage;
    }
  | { readonly kind: 'refused'; readonly status: number; readonly body: string };

export function attach(
  server: TestServer,
  client: string,
  id: string,
  options: {
    from?: 'start' | 'now';
    stdin?: boolean;
    tailBytes?: number;
    protocols?: string[];
    headers?: Record<string, string>;
  } = {},
): Promise<AttachResult> {
  const parameters = new URLSearchParams();
  if (options.from !== undefined) parameters.set('from', options.from);
  if (options.stdin !== undefined) parameters.set('stdin', String(options.stdin));
  if (options.tailBytes !== undefined) parameters.set('tailBytes', String(options.tailBytes));
  const query = parameters.size === 0 ? '' : `?${parameters.toString()}`;
  const socket = new WebSocket(
    `wss://localhost:${server.port}/v1/jobs/${id}/attach${query}`,
    options.protocols ?? [ATTACH_PROTOCOL],
    { ...server.credentials(client), headers: options.headers ?? {}, perMessageDeflate: false },
  );
  return new Promise((resolve, reject) => {
    socket.once('upgrade', (handshake) => {
      socket.once('open', () =>
        resolve({ kind: 'open', session: new AttachedSession(socket), handshake }),
      );
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.once('end', () =>
        resolve({ kind: 'refused', status: response.statusCode ?? 0, body }),
      );
    });
    socket.once('error', reject);
  });
}

export class AttachedSession {
  readonly socket: WebSocket;
  /** Resolves when the socket closes: the end the server reported (if any) and the close code. */
  readonly closed: Promise<{ end: AttachEnd | undefined; code: number }>;
  readonly #received = new Map<number, Buffer[]>();
  /** Every output message as it came, for the order across channels. */
  readonly #messages: { channel: number; payload: Buffer }[] = [];
  #end: AttachEnd | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer) => {
      const channel = data[0] ?? -1;
      const payload = data.subarray(1);
      if (channel === CHANNEL.status) this.#end = JSON.parse(payload.toString('utf8')) as AttachEnd;
      else {
        this.#received.set(channel, [...(this.#received.get(channel) ?? []), payload]);
        this.#messages.push({ channel, payload });
      }
      for (const waiter of this.#waiters) waiter();
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', (code) => resolve({ end: this.#end, code }));
    });
  }

  output(channel: number = CHANNEL.stdout): string {
    return Buffer.concat(this.#received.get(channel) ?? []).toString('utf8');
  }

  /**
   * The output in the order it arrived, as runs of one channel: `[channel, text]`, consecutive
   * messages of a channel joined (how the server splits a run into messages is its own affair).
   */
  transcript(): [number, string][] {
    const runs: { channel: number; payloads: Buffer[] }[] = [];
    for (const { channel, payload } of this.#messages) {
      const last = runs.at(-1);
      if (last?.channel === channel) last.payloads.push(payload);
      else runs.push({ channel, payloads: [payload] });
    }
    return runs.map(({ channel, payloads }) => [channel, Buffer.concat(payloads).toString('utf8')]);
  }

  /** All output channels' bytes in the order they arrived, as text. */
  interleaved(): string {
    return Buffer.concat(this.#messages.map(({ payload }) => payload)).toString('utf8');
  }

  /** Resolves once the channel's output contains `text`. */
  waitFor(text: string, channel: number = CHANNEL.stdout): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!this.output(channel).includes(text)) return;
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
      void this.closed.then(() => {
        if (this.#waiters.delete(check)) {
          reject(new Error(`closed without '${text}': ${JSON.stringify(this.output(channel))}`));
        }
      });
      check();
    });
  }

  send(channel: number, payload: string | Buffer): void {
    this.socket.send(Buffer.concat([Buffer.of(channel), Buffer.from(payload)]));
  }

  type(text: string): void {
    this.send(CHANNEL.stdin, text);
  }

  resize(rows: number, cols: number): void {
    this.send(CHANNEL.resize, JSON.stringify({ Width: cols, Height: rows }));
  }

  endInput(): void {
    this.send(CHANNEL.close, Buffer.of(CHANNEL.stdin));
  }
}
