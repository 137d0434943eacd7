// @ts-check
// A `tty` job's terminal: xterm.js over the attach WebSocket, as `jobctl attach` uses it. Its
// owner types into the job (stdin channel) while it runs; anyone else who may see it, or anyone
// once it has ended, only watches (`stdin=false`): watching never writes to or signals a job.
// xterm.js is most of a megabyte, so it is loaded only when a terminal is shown.
import { jobPath } from './api.js';
import { ATTACH_PROTOCOL, CHANNEL } from './attach-channels.js';
import { el, show } from './dom.js';
import { ENDED_STATUSES } from './job-status.js';

/** What a new page shows of a terminal that has written more: its last screens. */
const TAIL_BYTES = 256 * 1024;

/**
 * @param {HTMLElement} section
 * @param {import('./api.js').Job} job
 * @param {import('./app.js').Session} session
 * @param {() => void} ended called when the job ends while watched
 * @returns {import('./app.js').View}
 */
export function terminalView(section, job, session, ended) {
  const screen = el('div', { class: 'terminal', id: 'terminal' });
  const state = el('p', { class: 'quiet' }, 'connecting…');
  show(
    section,
    el(
      'div',
      { class: 'output-head' },
      el('h2', {}, 'Terminal'),
      el(
        'a',
        { href: `${jobPath(job.id)}/output`, download: `${job.id}.log` },
        'download whole output',
      ),
    ),
    screen,
    state,
  );
  const writes =
    job.stdin && job.owner === session.health.client.name && !ENDED_STATUSES.includes(job.status);
  let closed = false;
  /** @type {WebSocket | undefined} */
  let socket;
  /** @type {{ dispose(): void } | undefined} */
  let terminal;

  void open();

  async function open() {
    addStyleSheet();
    const { Terminal } = await import('./xterm.js');
    if (closed) return;
    const size = job.tty ?? { rows: 24, cols: 80 };
    const term = new Terminal({ rows: size.rows, cols: size.cols, disableStdin: !writes });
    terminal = term;
    term.open(screen);
    const url = new URL(`${jobPath(job.id)}/attach`, location.href);
    url.protocol = 'wss:';
    url.searchParams.set('stdin', String(writes));
    url.searchParams.set('tailBytes', String(TAIL_BYTES));
    const ws = new WebSocket(url, ATTACH_PROTOCOL);
    socket = ws;
    ws.binaryType = 'arraybuffer';
    const encoder = new TextEncoder();
    /** @param {number} channel @param {Uint8Array} bytes */
    const send = (channel, bytes) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const message = new Uint8Array(bytes.length + 1);
      message[0] = channel;
      message.set(bytes, 1);
      ws.send(message);
    };
    ws.addEventListener('open', () => {
      state.textContent = writes ? 'connected: type into the terminal' : 'watching';
      if (writes)
        send(
          CHANNEL.resize,
          encoder.encode(JSON.stringify({ Width: term.cols, Height: term.rows })),
        );
      if (writes) term.focus();
    });
    ws.addEventListener('message', (event) => {
      if (!(event.data instanceof ArrayBuffer) || event.data.byteLength === 0) return;
      const bytes = new Uint8Array(event.data);
      if (bytes[0] === CHANNEL.status) {
        state.textContent = 'the job has ended';
        ended();
        return;
      }
      if (bytes[0] === CHANNEL.stdout || bytes[0] === CHANNEL.stderr) term.write(bytes.subarray(1));
    });
    ws.addEventListener('close', (event) => {
      if (state.textContent === 'the job has ended') return;
      state.textContent = `not connected (${event.code}); reload to connect again`;
    });
    if (writes) term.onData((data) => send(CHANNEL.stdin, encoder.encode(data)));
  }

  return {
    close() {
      closed = true;
      socket?.close(1000);
      terminal?.dispose();
    },
  };
}

/** xterm.js's own styles, once per page. */
function addStyleSheet() {
  if (document.querySelector('link[href="/ui/xterm.css"]') !== null) return;
  document.head.append(el('link', { rel: 'stylesheet', href: '/ui/xterm.css' }));
}
