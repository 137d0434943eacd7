// @ts-check
// Output as a terminal would show it, built as text nodes: ANSI colour and style sequences
// become styled spans (anser turns them into plain data: nothing is ever parsed as HTML, so a
// `<script>` inside a colour sequence stays text), and a carriage return moves back to the start
// of the line, so a progress line is overwritten as it is on a terminal. Each line is numbered
// (`#L42` links to it). Colour carries on across lines and across pieces, as on a terminal; a
// sequence split between two pieces of output is shown as text (rare: pieces end where the job's
// writes did).
import Anser from './anser.js';

/**
 * One character cell's look; cells of one look are shown as one span.
 * @typedef {{ stream: string, fg: string, bg: string, decorations: string }} Look
 * @typedef {{ text: string, look: Look }} Run
 */

/** anser's decoration names, as the style sheet's classes (`ansi-bold`, ...). */
const DECORATIONS = new Set([
  'bold',
  'dim',
  'italic',
  'underline',
  'blink',
  'reverse',
  'hidden',
  'strikethrough',
]);

export class Line {
  /** @param {number} number */
  constructor(number) {
    this.number = number;
    this.node = document.createElement('span');
    this.node.className = 'line';
    this.node.id = `L${number}`;
    this.node.dataset.n = String(number);
    /** @type {Run[]} */
    this.runs = [];
    /** In UTF-16 code units, as the cursor. */
    this.chars = 0;
    this.cursor = 0;
  }

  /**
   * Writes a piece of text (no newline in it) at the cursor. Text without an escape sequence,
   * the usual case, costs no parsing: it takes the look the stream's last sequence left.
   * @param {string} text
   * @param {Parser} parser
   */
  write(text, parser) {
    text.split('\r').forEach((part, index) => {
      if (index > 0) this.cursor = 0;
      if (part === '') return;
      if (!part.includes('\x1b')) return this.put(part, parser.look);
      for (const entry of parser.anser.ansiToJson(part, { json: true, remove_empty: false })) {
        parser.look = {
          stream: parser.look.stream,
          fg: entry.fg_truecolor || entry.fg || '',
          bg: entry.bg_truecolor || entry.bg || '',
          decorations: entry.decorations.filter((name) => DECORATIONS.has(name)).join(' '),
        };
        if (entry.content !== '') this.put(entry.content, parser.look);
      }
    });
  }

  /**
   * @param {string} text
   * @param {Look} look
   */
  put(text, look) {
    if (this.cursor === this.chars) {
      const last = this.runs.at(-1);
      if (last !== undefined && sameLook(last.look, look)) last.text += text;
      else this.runs.push({ text, look });
      this.chars += text.length;
      this.cursor = this.chars;
      return;
    }
    // Back over what was written (after a carriage return): character by character.
    const cells = this.runs.flatMap((run) =>
      run.text.split('').map((char) => ({ char, look: run.look })),
    );
    for (const char of text.split('')) {
      cells[this.cursor] = { char, look };
      this.cursor += 1;
    }
    this.runs = [];
    for (const cell of cells) {
      const last = this.runs.at(-1);
      if (last !== undefined && sameLook(last.look, cell.look)) last.text += cell.char;
      else this.runs.push({ text: cell.char, look: cell.look });
    }
    this.chars = cells.length;
  }

  /** @param {Parser} parser */
  end(parser) {
    this.cursor = this.chars;
    this.put('\n', parser.look);
  }

  get text() {
    return this.runs.map((run) => run.text).join('');
  }

  /** Puts the line on screen, a span for each run of one look. */
  render() {
    this.node.replaceChildren(...this.runs.map(spanOf));
  }
}

/**
 * @param {Look} a
 * @param {Look} b
 */
function sameLook(a, b) {
  return a.stream === b.stream && a.fg === b.fg && a.bg === b.bg && a.decorations === b.decorations;
}

/** @param {Run} run */
function spanOf({ text, look }) {
  const span = document.createElement('span');
  span.className = [
    look.stream,
    ...look.decorations
      .split(' ')
      .filter((name) => name !== '')
      .map((name) => `ansi-${name}`),
  ].join(' ');
  // Through the CSSOM, which the Content-Security-Policy allows (a style attribute it would not).
  if (look.fg !== '') span.style.color = `rgb(${look.fg})`;
  if (look.bg !== '') span.style.backgroundColor = `rgb(${look.bg})`;
  span.textContent = text;
  return span;
}

/**
 * A stream's parser and the look its last sequence left: one per stream, so each keeps its own.
 * @typedef {{ anser: InstanceType<typeof Anser>, look: Look }} Parser
 * @param {string} stream
 * @returns {Parser}
 */
export function ansiParser(stream) {
  return { anser: new Anser(), look: { stream, fg: '', bg: '', decorations: '' } };
}
