// @ts-check
// The client's jobs, newest first, a page at a time, filtered by status and label. Statuses are
// kept live by reloading what is shown every few seconds while the tab is visible: the API has
// no feed of status changes, and a hidden tab asks for nothing.
import { ApiError, listJobs } from './api.js';
import {
  commandLine,
  el,
  elapsed,
  formatDuration,
  formatTime,
  labelChips,
  show,
  statusChip,
} from './dom.js';
import { JOB_STATUSES } from './job-status.js';

const PAGE = 25;
const REFRESH_MS = 3000;

/**
 * @param {HTMLElement} section
 * @param {import('./app.js').Session} session
 * @returns {import('./app.js').View}
 */
export function jobsList(section, session) {
  const seeAll = session.health.permissions.includes('seeAll');
  const status = el(
    'select',
    { name: 'status', 'aria-label': 'status' },
    el('option', { value: '' }, 'any status'),
    JOB_STATUSES.map((name) => el('option', { value: name }, name)),
  );
  const label = el('input', {
    name: 'label',
    placeholder: 'label key=value',
    'aria-label': 'label',
  });
  const message = el('p', { class: 'error', role: 'alert' });
  const rows = el('tbody');
  const more = el('button', { type: 'button', class: 'more', hidden: true }, 'Older jobs');
  const filters = el('form', { class: 'filters' }, status, label, el('button', {}, 'Filter'));
  show(
    section,
    el('h2', {}, seeAll ? 'Jobs of every client' : 'Jobs'),
    filters,
    message,
    el(
      'div',
      { class: 'scroll' },
      el(
        'table',
        { class: 'jobs' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', {}, 'status'),
            el('th', {}, 'command'),
            el('th', {}, 'labels'),
            seeAll && el('th', {}, 'client'),
            el('th', {}, 'started'),
            el('th', {}, 'took'),
          ),
        ),
        rows,
      ),
    ),
    more,
  );

  /** How many jobs are shown: a refresh asks for as many again, newest first. */
  let shown = PAGE;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let closed = false;

  function query() {
    const params = new URLSearchParams({ limit: String(Math.min(shown, 1000)) });
    if (status.value !== '') params.set('status', status.value);
    if (label.value.trim() !== '') params.set('label', label.value.trim());
    return `/v1/jobs?${params}`;
  }

  async function load() {
    clearTimeout(timer);
    try {
      const page = await listJobs(query());
      if (closed) return;
      message.textContent = '';
      show(
        rows,
        page.jobs.length === 0
          ? el('tr', {}, el('td', { colspan: 6, class: 'quiet' }, 'No jobs.'))
          : page.jobs.map((job) => row(job, seeAll)),
      );
      more.hidden = page.next === undefined;
    } catch (error) {
      if (closed) return;
      message.textContent = error instanceof ApiError ? error.describe() : String(error);
    }
    schedule();
  }

  function schedule() {
    if (!closed && document.visibilityState === 'visible') timer = setTimeout(load, REFRESH_MS);
  }

  function onVisibility() {
    if (document.visibilityState === 'visible') void load();
    else clearTimeout(timer);
  }

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    shown = PAGE;
    void load();
  });
  more.addEventListener('click', () => {
    shown += PAGE;
    void load();
  });
  document.addEventListener('visibilitychange', onVisibility);
  void load();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}

/**
 * @param {import('./api.js').Job} job
 * @param {boolean} withOwner
 */
function row(job, withOwner) {
  const command = commandLine(job.command, job.args);
  return el(
    'tr',
    { 'data-job': job.id },
    el('td', {}, statusChip(job)),
    el('td', { class: 'command' }, el('a', { href: `/jobs/${job.id}`, title: command }, command)),
    el('td', {}, labelChips(job.labels)),
    withOwner && el('td', {}, job.owner),
    el('td', {}, formatTime(job.startedAt ?? job.createdAt)),
    el('td', {}, formatDuration(elapsed(job.startedAt, job.endedAt))),
  );
}
