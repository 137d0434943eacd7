// @ts-check
// A job's output as it arrives, from the attach WebSocket (watching only: `stdin=false`), with
// stdout and stderr told apart. The page keeps at most KEEP_CHARS of it: older text is dropped as
// new text comes, and a job with more than that starts at its tail (`tailBytes`), so a 1 GiB job
// neither crosses the network whole nor freezes the tab. The download link has all of it.
import { describe, jobPath, request } from './api.js';
import { ATTACH_PROTOCOL, CHANNEL } from './attach-channels.js';
import { el, show } from './dom.js';
import { ansiParser, Line } from './terminal-lines.js';

/** What the page keeps, and what it asks of the output (both streams) when the job has more. */
export const KEEP_CHARS = 256 * 1024;

/** The most lines a page keeps, so a job of short lines costs no more to show than one of long. */
const KEEP_LINES = 5000;

/**
 * How often a page redraws while its job floods it (a redraw that drops lines): 4 screens a
 * second is more than anyone reads, and leaves the tab's main thread free for clicks and keys
 * instead of rebuilding thousands of lines every frame.
 */
const FLOOD_REDRAW_MS = 250;

/** @param {string} text */
function countLines(text) {
  let count = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}

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
  linkLines(screen, kept);
  const search = searchBox(kept);
  const stamped = el('div', { class: 'output', id: 'timestamped', tabindex: '0', hidden: true });
  screen.after(stamped);
  section.querySelector('.output-head')?.append(search, timestampSwitch(job, screen, stamped));

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
 * A switch between the live output and the same tail with each line's time (the API's
 * `timestamps=true`: RFC 3339 with nanoseconds, as `docker logs --timestamps` writes it), read
 * once when switched on; switched off, the live view is there again, still following.
 * @param {import('./api.js').Job} job
 * @param {HTMLElement} live
 * @param {HTMLElement} stamped
 */
function timestampSwitch(job, live, stamped) {
  const box = el('input', { type: 'checkbox' });
  box.addEventListener('change', () => void toggle());

  async function toggle() {
    live.hidden = box.checked;
    stamped.hidden = !box.checked;
    if (!box.checked) return;
    show(stamped, 'loading…');
    // The tail as the page opened (with `offset`): a large output is not read whole.
    const offset = Math.max(0, job.outputBytes - KEEP_CHARS);
    const path = `${jobPath(job.id)}/output?timestamps=true${offset > 0 ? `&offset=${offset}` : ''}`;
    try {
      const text = await (await request(path, { headers: { accept: 'text/plain' } })).text();
      stamped.replaceChildren();
      const kept = new KeptText(stamped, () => undefined);
      kept.add('stdout', text);
      kept.flush();
    } catch (error) {
      show(stamped, describe(error));
    }
  }
  return el('label', { class: 'switch' }, box, ' timestamps');
}

/**
 * Line links: a click on a line's number selects it and puts `#L42` in the address; an address
 * with one selects that line once it has arrived. Numbers count from the first line the page
 * shows (the tail's first, for a job with more output than the page keeps).
 * @param {HTMLElement} screen
 * @param {KeptText} kept
 */
function linkLines(screen, kept) {
  /** @param {number} number */
  const select = (number) => {
    for (const line of screen.querySelectorAll('.line.selected')) line.classList.remove('selected');
    const line = document.getElementById(`L${number}`);
    line?.classList.add('selected');
    return line;
  };
  screen.addEventListener('click', (event) => {
    const line = event.target instanceof Element ? event.target.closest('.line') : null;
    if (!(line instanceof HTMLElement) || !(event instanceof MouseEvent)) return;
    // The number is the line's left padding (its ::before): a click on the text is for copying.
    if (event.offsetX >= parseFloat(getComputedStyle(line).paddingLeft)) return;
    select(Number(line.dataset.n));
    history.replaceState(null, '', `#L${line.dataset.n}`);
  });
  const wanted = /^#L(\d+)$/.exec(location.hash)?.[1];
  if (wanted === undefined) return;
  const onFlush = () => {
    const line = select(Number(wanted));
    if (line === null) return;
    line.scrollIntoView({ block: 'center' });
    kept.onFlush = kept.onFlush.filter((listener) => listener !== onFlush);
  };
  kept.onFlush.push(onFlush);
}

/**
 * A search of what the page shows: the lines that hold the text are marked, and Enter (or the
 * arrows) jumps to the next (Shift+Enter: the previous); the count says where one is.
 * @param {KeptText} kept
 */
function searchBox(kept) {
  const input = el('input', {
    type: 'search',
    placeholder: 'search',
    'aria-label': 'search the output',
  });
  const count = el('span', { class: 'quiet', 'aria-live': 'polite' });
  /** @type {Line[]} */
  let matches = [];
  let at = -1;

  function find() {
    for (const line of matches) line.node.classList.remove('match', 'current');
    const wanted = input.value.toLowerCase();
    matches =
      wanted === '' ? [] : kept.lines.filter((line) => line.text.toLowerCase().includes(wanted));
    for (const line of matches) line.node.classList.add('match');
    at = -1;
    count.textContent = wanted === '' ? '' : `${matches.length} lines`;
  }

  /** @param {number} step */
  function jump(step) {
    if (matches.length === 0) return;
    matches[at]?.node.classList.remove('current');
    at = (at + step + matches.length) % matches.length;
    const line = matches[at];
    line?.node.classList.add('current');
    line?.node.scrollIntoView({ block: 'center' });
    count.textContent = `${at + 1} of ${matches.length}`;
  }

  input.addEventListener('input', find);
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    jump(event.shiftKey ? -1 : 1);
  });
  return el(
    'span',
    { class: 'search' },
    input,
    el('button', { type: 'button', 'aria-label': 'previous match', onclick: () => jump(-1) }, '↑'),
    el('button', { type: 'button', 'aria-label': 'next match', onclick: () => jump(1) }, '↓'),
    count,
  );
}

/**
 * The lines on screen, at most KEEP_CHARS of them. Pieces that arrive are put on screen once per
 * frame, so a fast job costs a redraw per frame, not one per message; only the lines a frame
 * changed are drawn again.
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
    /** @type {Line[]} */
    this.lines = [];
    /** @type {Line | undefined} */
    this.current = undefined;
    this.nextNumber = 1;
    /** @type {Set<Line>} */
    this.changed = new Set();
    this.parsers = { stdout: ansiParser('stdout'), stderr: ansiParser('stderr') };
    this.shownChars = 0;
    /** @type {number | undefined} */
    this.frame = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.restTimer = undefined;
    this.restUntil = 0;
    this.droppedAny = false;
    /** @type {(() => void)[]} */
    this.onFlush = [];
  }

  /**
   * @param {'stdout' | 'stderr'} stream
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
    this.scheduleFlush();
  }

  scheduleFlush() {
    if (this.frame !== undefined || this.restTimer !== undefined) return;
    const rest = this.restUntil - performance.now();
    if (rest <= 0) {
      this.frame = requestAnimationFrame(() => this.flush());
      return;
    }
    this.restTimer = setTimeout(() => {
      this.restTimer = undefined;
      this.scheduleFlush();
    }, rest);
  }

  flush() {
    this.frame = undefined;
    const firstShown = this.lines[0];
    const atBottom =
      this.screen.scrollTop + this.screen.clientHeight >= this.screen.scrollHeight - 4;
    for (const { stream, text } of this.skipToTail(this.pending)) {
      this.write(stream === 'stderr' ? 'stderr' : 'stdout', text);
    }
    this.pending = [];
    this.pendingChars = 0;
    // Lines that would be dropped at once are never drawn: a fast job's frame draws its tail.
    while (
      (this.shownChars > KEEP_CHARS || this.lines.length > KEEP_LINES) &&
      this.lines.length > 1
    ) {
      const first = this.lines.shift();
      first?.node.remove();
      if (first !== undefined) this.changed.delete(first);
      this.shownChars -= first?.chars ?? 0;
      this.dropped();
    }
    for (const line of this.changed) line.render();
    this.changed.clear();
    // New lines go on screen together, once the frame knows which survive.
    const fresh = [];
    for (let index = this.lines.length - 1; index >= 0; index -= 1) {
      const line = this.lines[index];
      if (line === undefined || line.node.isConnected) break;
      fresh.push(line.node);
    }
    this.screen.append(...fresh.reverse());
    if (atBottom) this.screen.scrollTop = this.screen.scrollHeight;
    if (firstShown !== undefined && this.lines[0] !== firstShown) {
      this.restUntil = performance.now() + FLOOD_REDRAW_MS;
    }
    for (const listener of this.onFlush) listener();
  }

  /**
   * What of a frame's pieces would stay on screen: when they hold more than KEEP_LINES lines, the
   * lines before those are counted (so numbers stay true) but never built, and every line shown
   * before is dropped. A job that floods costs a frame its last screens, not all it wrote.
   * @param {{ stream: string, text: string }[]} pieces
   */
  skipToTail(pieces) {
    let lines = 0;
    for (let index = pieces.length - 1; index >= 0; index -= 1) {
      const piece = pieces[index];
      if (piece === undefined) continue;
      let end = piece.text.length;
      while (lines <= KEEP_LINES) {
        const newline = piece.text.lastIndexOf('\n', end - 1);
        if (newline < 0 || end === 0) break;
        lines += 1;
        end = newline;
      }
      if (lines <= KEEP_LINES) continue;
      // This piece's newline at `end` ends the last line skipped.
      const skipped = [
        ...pieces.slice(0, index),
        { stream: piece.stream, text: piece.text.slice(0, end + 1) },
      ];
      this.nextNumber += skipped.reduce((sum, { text }) => sum + countLines(text), 0);
      for (const line of this.lines) line.node.remove();
      this.lines = [];
      this.changed.clear();
      this.current = undefined;
      this.shownChars = 0;
      this.dropped();
      return [
        { stream: piece.stream, text: piece.text.slice(end + 1) },
        ...pieces.slice(index + 1),
      ];
    }
    return pieces;
  }

  /**
   * @param {'stdout' | 'stderr'} stream
   * @param {string} text
   */
  write(stream, text) {
    text.split('\n').forEach((piece, index) => {
      if (index > 0) {
        const ended = this.lineNow();
        ended.end(this.parsers[stream]);
        this.shownChars += 1;
        this.changed.add(ended);
        this.current = undefined;
      }
      if (piece === '') return;
      const line = this.lineNow();
      const before = line.chars;
      line.write(piece, this.parsers[stream]);
      this.shownChars += line.chars - before;
      this.changed.add(line);
    });
  }

  lineNow() {
    if (this.current !== undefined) return this.current;
    const line = new Line(this.nextNumber);
    this.nextNumber += 1;
    this.lines.push(line);
    this.current = line;
    return line;
  }

  dropped() {
    if (this.droppedAny) return;
    this.droppedAny = true;
    this.onDrop();
  }

  close() {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    clearTimeout(this.restTimer);
  }
}
