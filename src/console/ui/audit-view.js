// @ts-check
// The audit trail as admins and auditors see it: the newest records, and whether the whole
// signed chain verifies against its signed head (GET /v1/audit/verify).
import { describe, getJson, jobPage } from './api.js';
import { el, formatTime, scrollingTable, show } from './dom.js';

const RECORDS = 50;

/**
 * @param {HTMLElement} section
 * @returns {import('./app.js').View}
 */
export function auditView(section) {
  const verdict = el(
    'p',
    { id: 'audit-verdict', class: 'quiet' },
    'Every record is signed and linked to the one before; verifying checks all of them.',
  );
  const rows = el('tbody');
  const message = el('p', { class: 'error', role: 'alert' });
  const again = el('button', { type: 'button' }, 'Verify the chain');
  show(
    section,
    el('h2', {}, 'Audit trail'),
    el('div', { class: 'verify' }, verdict, again),
    message,
    scrollingTable('audit', ['#', 'time', 'client', 'action', 'outcome', 'job'], rows),
  );
  let closed = false;

  async function verify() {
    verdict.className = 'quiet';
    verdict.textContent = 'verifying the chain…';
    try {
      /** @type {import('./api.js').AuditVerdict} */
      const result = await getJson('/v1/audit/verify');
      if (closed) return;
      verdict.className = result.ok ? 'ok' : 'bad';
      verdict.textContent = result.ok
        ? `The chain verifies: ${result.records} records, signed and linked${result.headChecked ? ', as long as its signed head says' : ''}${result.startsAfter === undefined ? '' : `, from record ${result.startsAfter + 1} on (older files were shipped away)`}.`
        : `The chain is broken at ${result.file} line ${result.line}: ${result.reason}.`;
    } catch (error) {
      if (!closed) verdict.textContent = describe(error);
    }
  }

  async function load() {
    try {
      /** @type {{ records: import('./api.js').AuditRecord[] }} */
      const { records } = await getJson(`/v1/audit?limit=${RECORDS}`);
      if (closed) return;
      show(
        rows,
        records.map((record) =>
          el(
            'tr',
            {},
            el('td', {}, record.seq),
            el('td', {}, formatTime(record.time)),
            el('td', {}, record.client.name ?? '—'),
            el('td', {}, record.action),
            el(
              'td',
              { class: record.outcome === 'allowed' ? '' : 'bad' },
              record.status === null ? record.outcome : `${record.outcome} (${record.status})`,
            ),
            el('td', {}, jobLink(record.jobId)),
          ),
        ),
      );
    } catch (error) {
      if (!closed) message.textContent = describe(error);
    }
  }

  // On request only: it reads and checks every record the server has ever written.
  again.addEventListener('click', () => void verify());
  void load();
  return {
    close() {
      closed = true;
    },
  };
}

/** A job's id as a link to its page, when it is one (a refused request may name anything). @param {string | null} id */
function jobLink(id) {
  if (id === null) return '—';
  const href = jobPage(id);
  return href === undefined ? id.slice(0, 8) : el('a', { href }, id.slice(0, 8));
}
