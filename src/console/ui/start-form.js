// @ts-check
// Starting a job: a program, its arguments one per field (never a shell line), its environment
// and labels, its network, and limits within what the caller's role may ask for (GET /v1/limits
// says).
import { describe, getJson, send } from './api.js';
import { el, formatBytes, formatDuration, show } from './dom.js';

/**
 * A growing list of fields: one per argument, or one pair per variable or label.
 * @param {string} name
 * @param {string[]} placeholders one field per entry, or two for a pair
 */
function fieldList(name, placeholders) {
  const list = el('ol', { class: 'fields', 'data-list': name });
  function add() {
    const inputs = placeholders.map((placeholder) =>
      el('input', { name, placeholder, 'aria-label': `${name} ${placeholder}` }),
    );
    const item = el(
      'li',
      {},
      inputs,
      el(
        'button',
        { type: 'button', class: 'remove', title: 'remove', onclick: () => item.remove() },
        '×',
      ),
    );
    list.append(item);
    inputs[0]?.focus();
  }
  const adder = el('button', { type: 'button', class: 'add', onclick: add }, `+ ${name}`);
  /** Each entry's values, empty entries left out. */
  function values() {
    return [...list.children]
      .map((item) => [...item.querySelectorAll('input')].map((input) => input.value))
      .filter((entry) => entry.some((value) => value !== ''));
  }
  /** @returns {Record<string, string>} */
  function pairs() {
    return Object.fromEntries(values().map(([key, value]) => [key ?? '', value ?? '']));
  }
  return { element: el('div', { class: 'field-list' }, list, adder), values, pairs };
}

/**
 * @param {HTMLElement} section
 * @param {import('./app.js').Session} session
 * @returns {import('./app.js').View}
 */
export function startForm(section, session) {
  const command = el('input', {
    name: 'command',
    required: true,
    placeholder: 'e.g. python3',
    autocomplete: 'off',
  });
  const args = fieldList('argument', ['argument']);
  const env = fieldList('variable', ['NAME', 'value']);
  const labels = fieldList('label', ['key', 'value']);
  const cpus = el('input', { name: 'cpus', type: 'number', step: '0.01', min: '0.01' });
  const memory = el('input', { name: 'memory', placeholder: 'e.g. 256M' });
  const pids = el('input', { name: 'pids', type: 'number', min: '1', step: '1' });
  const timeout = el('input', { name: 'timeout', placeholder: 'e.g. 30s, 5m' });
  // The server's default unless one is chosen; a mode the role may not have is refused (403),
  // and the refusal shown like any other.
  const network = el(
    'select',
    { name: 'network' },
    el('option', { value: '' }, "the server's default"),
    el('option', { value: 'none' }, 'none: its own loopback only'),
    el('option', { value: 'egress' }, "egress: out through the server's filter"),
    el('option', { value: 'host' }, "host: the server's own network"),
  );
  const ceilings = el('p', { class: 'quiet' });
  const message = el('pre', { class: 'error', role: 'alert' });
  const submit = el('button', { type: 'submit' }, 'Start');
  const form = el(
    'form',
    { class: 'start' },
    labelled('command', command),
    el('div', { class: 'row' }, el('span', {}, 'arguments'), args.element),
    el('div', { class: 'row' }, el('span', {}, 'environment'), env.element),
    el('div', { class: 'row' }, el('span', {}, 'labels'), labels.element),
    labelled('network', network),
    el(
      'fieldset',
      {},
      el('legend', {}, 'limits'),
      labelled('CPUs', cpus),
      labelled('memory', memory),
      labelled('processes', pids),
      labelled('timeout', timeout),
      ceilings,
    ),
    message,
    submit,
  );
  section.append(form);

  let closed = false;
  void showCeilings(ceilings, { cpus, memory, pids, timeout }).catch(() => undefined);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void start();
  });

  async function start() {
    message.textContent = '';
    submit.disabled = true;
    try {
      const body = {
        command: command.value,
        args: args.values().map(([value]) => value ?? ''),
        env: env.pairs(),
        labels: labels.pairs(),
        limits: limitsOf({ cpus: cpus.value, memory: memory.value, pids: pids.value }),
        ...(timeout.value.trim() === '' ? {} : { timeout: durationOf(timeout.value.trim()) }),
        ...(network.value === '' ? {} : { network: network.value }),
      };
      const job = /** @type {import('./api.js').Job} */ (await send('POST', '/v1/jobs', body));
      if (!closed) session.navigate(`/jobs/${job.id}`);
    } catch (error) {
      message.textContent = describe(error);
    } finally {
      submit.disabled = false;
    }
  }
  return {
    close() {
      closed = true;
    },
  };
}

/**
 * @param {string} text
 * @param {HTMLElement} input
 */
function labelled(text, input) {
  return el('label', { class: 'row' }, el('span', {}, text), input);
}

/**
 * Only the limits asked for: an empty field leaves the server's default.
 * @param {{ cpus: string, memory: string, pids: string }} fields
 */
function limitsOf(fields) {
  /** @type {Record<string, number | string>} */
  const limits = {};
  if (fields.cpus.trim() !== '') limits.cpus = Number(fields.cpus);
  if (fields.memory.trim() !== '') limits.memory = quantity(fields.memory.trim());
  if (fields.pids.trim() !== '') limits.pids = Number(fields.pids);
  return limits;
}

/** A bare number is bytes or seconds to the API; anything else goes as written. @param {string} text */
function quantity(text) {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** @param {string} text */
function durationOf(text) {
  return /^\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

/**
 * What the role may ask for, beside the fields and as their bounds; what a job gets when a field
 * is left empty, as its placeholder. A limit this host cannot enforce is not offered.
 * @param {HTMLElement} into
 * @param {{ cpus: HTMLInputElement, memory: HTMLInputElement, pids: HTMLInputElement, timeout: HTMLInputElement }} fields
 */
async function showCeilings(into, fields) {
  /** @type {import('./api.js').Limits} */
  const answer = await getJson('/v1/limits');
  const { ceilings, defaults, enforceableLimits } = answer;
  // A job may ask at most the lower of its role's ceiling and what all the client's jobs may use.
  const enforced = new Set(enforceableLimits);
  const ceiling = lowerOf(ceilings.limits, answer.clientTotals);
  fields.cpus.closest('label')?.toggleAttribute('hidden', !enforced.has('cpu'));
  fields.memory.closest('label')?.toggleAttribute('hidden', !enforced.has('memory'));
  fields.pids.closest('label')?.toggleAttribute('hidden', !enforced.has('pids'));
  if (ceiling.cpus !== undefined) fields.cpus.max = String(ceiling.cpus);
  if (ceiling.pids !== undefined) fields.pids.max = String(ceiling.pids);
  if (defaults.limits.cpus !== undefined)
    fields.cpus.placeholder = `default ${defaults.limits.cpus}`;
  if (defaults.limits.memoryBytes !== undefined)
    fields.memory.placeholder = `default ${formatBytes(defaults.limits.memoryBytes)}, e.g. 256M`;
  if (defaults.limits.pids !== undefined)
    fields.pids.placeholder = `default ${defaults.limits.pids}`;
  if (defaults.timeoutMs !== null)
    fields.timeout.placeholder = `default ${formatDuration(defaults.timeoutMs)}, e.g. 30s, 5m`;
  const parts = [
    enforced.has('cpu') && ceiling.cpus !== undefined && `${ceiling.cpus} CPUs`,
    enforced.has('memory') &&
      ceiling.memoryBytes !== undefined &&
      `${formatBytes(ceiling.memoryBytes)} of memory`,
    enforced.has('pids') && ceiling.pids !== undefined && `${ceiling.pids} processes`,
    ceilings.timeoutMs !== null && `a timeout of ${formatDuration(ceilings.timeoutMs)}`,
  ].filter((part) => part !== false);
  show(
    into,
    parts.length === 0
      ? 'Your role has no ceilings.'
      : `Your role may ask for at most ${parts.join(', ')}.`,
  );
}

/**
 * Each limit at the lower of two bounds; absent where both are.
 * @param {import('./api.js').Job['limits']} a
 * @param {import('./api.js').Job['limits']} b
 */
function lowerOf(a, b) {
  /** @param {number | undefined} x @param {number | undefined} y */
  const lower = (x, y) => (x === undefined ? y : y === undefined ? x : Math.min(x, y));
  return {
    cpus: lower(a.cpus, b.cpus),
    memoryBytes: lower(a.memoryBytes, b.memoryBytes),
    pids: lower(a.pids, b.pids),
  };
}
