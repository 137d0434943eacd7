// @ts-check
// Building the page from data. Everything a job or a client wrote (commands, arguments, labels,
// output, problem details) becomes text nodes: nothing here parses HTML, so a job that prints
// `<img src=x onerror=...>` shows those characters and runs nothing.

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, string | boolean | number | EventListener | undefined>} Props
 */

/**
 * An element with attributes (`on...` ones are listeners) and children (strings become text).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children.flat());
  return element;
}

/**
 * @param {Element} parent
 * @param {Child[]} children
 */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/**
 * Replaces what an element shows.
 * @param {Element} parent
 * @param {...(Child | Child[])} children
 */
export function show(parent, ...children) {
  parent.replaceChildren();
  append(parent, children.flat());
}

/** @param {number | null | undefined} bytes */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** @param {number | null | undefined} ms */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** @param {string | null | undefined} iso */
export function formatTime(iso) {
  if (iso === null || iso === undefined) return '—';
  return new Date(iso).toLocaleString(undefined, { hour12: false });
}

/**
 * How long between two times, or from the first until now.
 * @param {string | null} from
 * @param {string | null} to
 */
export function elapsed(from, to) {
  if (from === null) return null;
  return (to === null ? Date.now() : Date.parse(to)) - Date.parse(from);
}

/**
 * Named values, as a grid that wraps to the width it has; a `wide` one takes a whole row.
 * @param {[string, Child | Child[], 'wide'?][]} facts
 */
export function factList(facts) {
  return el(
    'dl',
    { class: 'facts' },
    facts.map(([name, value, wide]) =>
      el('div', { class: wide }, el('dt', {}, name), el('dd', {}, value)),
    ),
  );
}

/** @param {Readonly<Record<string, string>>} labels */
export function labelChips(labels) {
  return Object.entries(labels).map(([key, value]) =>
    el('span', { class: 'label' }, `${key}=${value}`),
  );
}

/**
 * A command as a person would type it: each argument quoted when a shell would need it, so that
 * where one argument ends stays visible. For reading only: the API never runs a shell line.
 * @param {string} command
 * @param {readonly string[]} args
 */
export function commandLine(command, args) {
  return [command, ...args].map(quoted).join(' ');
}

/** @param {string} word */
function quoted(word) {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * A job's status as a chip, in the words people know from docker and Kubernetes: an exit other
 * than 0 says its code, a job a signal ended says which (`killed (SIGTERM)`), one the kernel
 * killed for memory is `OOMKilled`. The last three are shown as failures.
 * @param {import('./api.js').Job} job
 * @param {Props} [props]
 */
export function statusChip(job, props = {}) {
  const { text, failed } = statusOf(job);
  return el('span', { ...props, class: `status ${failed ? 'failed' : job.status}` }, text);
}

/**
 * What a job's status chip says, and whether it is shown as a failure.
 * @param {Pick<import('./api.js').Job, 'status' | 'exitCode' | 'signal' | 'oomKilled'>} job
 */
export function statusOf(job) {
  if (job.oomKilled) return { text: 'OOMKilled', failed: true };
  // A stop's signal is what the owner asked for: the job is `stopped`, not killed.
  if (job.status === 'exited' && job.signal !== null) {
    return { text: `killed (${job.signal})`, failed: true };
  }
  if (job.status === 'exited' && job.exitCode !== null && job.exitCode !== 0) {
    return { text: `exited ${job.exitCode}`, failed: true };
  }
  return { text: job.status, failed: false };
}

/**
 * A table under its column headings, scrolling sideways inside its card when it is wider than
 * the screen (so the page itself never does).
 * @param {string} className
 * @param {string[]} headings
 * @param {HTMLTableSectionElement} body
 */
export function scrollingTable(className, headings, body) {
  return el(
    'div',
    { class: 'scroll' },
    el(
      'table',
      { class: className },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          headings.map((heading) => el('th', {}, heading)),
        ),
      ),
      body,
    ),
  );
}
