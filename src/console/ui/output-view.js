// @ts-check
// A job's output as it arrives, from the attach WebSocket (watching only: `stdin=false`), with
// stdout and stderr told apart. The page keeps at most KEEP_CHARS of it: older text is dropped as
// new text comes, and a job with more than that starts at its tail (`tailBytes`), so a 1 GiB job
// neither crosses the network whole nor freezes the tab. The download link has all of it.
import { jobPath } from './api.js';
import { ATTACH_PROTOCOL, CHANNEL } from './attach-channels.js';
import { el, show } from './dom.js';

/** What the page keeps, and what it asks of the output (both streams) when the job has more. */
export const KEEP_CHARS = 256 * 1024;

/**
 * @param {HTMLElement} section
 * @param {import('./api.js').Job} job
 * @param {() => void} ended called when the job ends while watched
 * @returns {import('./app.js').View}
 */
export function outputView(section, job, ended) {
  const screen = el('pre', { class: 'output', tabindex: '0', 'aria-live': 'off' });
  const notice = el('p', { class: 'quiet', hidden: true });
  const state = el('p', { class: 'quiet' }, 'connecting…');
  show(
    section,
    el(
      'div',
      { class: 'output-head' },
      el('h2', {}, 'Output'),
      el(
        'span',
        { class: 'legend' },
        el('span', { class: 'stdout' }, 'stdout'),
        ' ',
        el('span', { class: 'stderr' }, 'stderr'),
      ),
      el(
        'a',
        { href: `${jobPath(job.id)}/output`, download: `${job.id}.log` },
        'download whole output',
      ),
    ),
    notice,
    screen,
    state,
  );
  const kept = new KeptText(screen, () => {
    notice.hidden = false;
    notice.textContent =
      'Earlier output is not shown here (the page keeps the last 256 KiB); the download has all of it.';
  });
  if (job.outputBytes > KEEP_CHARS) kept.dropped();

  const url = new URL(`${jobPath(job.id)}/attach`, location.href);
  url.protocol = 'wss:';
  url.searchParams.set('stdin', 'false');
  url.searchParams.set('tailBytes', String(KEEP_CHARS));
  const socket = new WebSocket(url, ATTACH_PROTOCOL);
  socket.binaryType = 'arraybuffer';
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  let finished = false;
  let opened = false;
  socket.addEventListener('open', () => {
    opened = true;
    state.textContent = 'following live';
  });
  socket.addEventListener('message', (event) => {
    if (!(event.data instanceof ArrayBuffer) || event.data.byteLength === 0) return;
    const bytes = new Uint8Array(event.data);
    const channel = bytes[0];
    if (channel === CHANNEL.status) {
      finished = true;
      state.textContent = 'the job has ended';
      ended();
      return;
    }
    const stream =
      channel === CHANNEL.stdout ? 'stdout' : channel === CHANNEL.stderr ? 'stderr' : undefined;
    if (stream === undefined) return;
    kept.add(stream, decoders[stream].decode(bytes.subarray(1), { stream: true }));
  });
  socket.addEventListener('close', (event) => {
    if (finished) return;
    // A browser does not say why a WebSocket was refused; the likeliest reason is the server's
    // bound on the output views one client holds open at once.
    state.textContent = !opened
      ? 'cannot follow the output: the server refused (too many output views open for this client?); the download still has it'
      : event.code === 1000
        ? 'the job has ended'
        : `not following: the connection closed (${event.code}${event.reason === '' ? '' : `: ${event.reason}`}); reload to follow again`;
  });
  return {
    close() {
      socket.close(1000);
      kept.close();
    },
  };
}

/**
 * The text on screen, at most KEEP_CHARS of it. Pieces that arrive are put on screen once per
 * frame, so a fast job costs a redraw per frame, not one per message.
 */
class KeptText {
  /**
   * @param {HTMLElement} screen
   * @param {() => void} onDrop
   */
  constructor(screen, onDrop) {
    this.screen = screen;
    this.onDrop = onDrop;
    /** @type {{ stream: string, text: string }[]} */
    this.pending = [];
    this.pendingChars = 0;
    /** @type {{ node: HTMLElement, chars: number }[]} */
    this.shown = [];
    this.shownChars = 0;
    /** @type {number | undefined} */
    this.frame = undefined;
    this.droppedAny = false;
  }

  /**
   * @param {string} stream
   * @param {string} text
   */
  add(stream, text) {
    if (text === '') return;
    this.pending.push({ stream, text });
    this.pendingChars += text.length;
    // A hidden tab gets no frames: what waits for one is bounded too.
    while (this.pendingChars > KEEP_CHARS && this.pending.length > 1) {
      this.pendingChars -= this.pending.shift()?.text.length ?? 0;
      this.dropped();
    }
    this.frame ??= requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = undefined;
    const atBottom =
      this.screen.scrollTop + this.screen.clientHeight >= this.screen.scrollHeight - 4;
    for (const { stream, text } of this.pending) {
      const last = this.shown.at(-1);
      if (last !== undefined && last.node.className === stream && last.chars < 16 * 1024) {
        last.node.append(text);
        last.chars += text.length;
      } else {
        const node = el('span', { class: stream }, text);
        this.screen.append(node);
        this.shown.push({ node, chars: text.length });
      }
      this.shownChars += text.length;
    }
    this.pending = [];
    this.pendingChars = 0;
    while (this.shownChars > KEEP_CHARS && this.shown.length > 1) {
      const first = this.shown.shift();
      first?.node.remove();
      this.shownChars -= first?.chars ?? 0;
      this.dropped();
    }
    if (atBottom) this.screen.scrollTop = this.screen.scrollHeight;
  }

  dropped() {
    if (this.droppedAny) return;
    this.droppedAny = true;
    this.onDrop();
  }

  close() {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
  }
}
