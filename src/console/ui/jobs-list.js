// @ts-check
// The client's jobs, newest first, a page at a time, filtered by status and label. Statuses are
// kept live by reloading what is shown every few seconds (refresh.js): the API has no feed of
// status changes.
import { describe, jobPage, listJobs } from './api.js';
import {
  commandLine,
  el,
  elapsed,
  formatDuration,
  formatTime,
  labelChips,
  scrollingTable,
  show,
  statusChip,
} from './dom.js';
import { JOB_STATUSES } from './job-status.js';
import { refresher } from './refresh.js';

const PAGE = 25;
const REFRESH_MS = 3000;
/** The most one listing answers: the page shows at most this many of the newest jobs. */
const LIST_MAX = 1000;

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
  const headings = [
    'status',
    'command',
    'labels',
    ...(seeAll ? ['client'] : []),
    'started',
    'took',
  ];
  show(
    section,
    el('h2', {}, seeAll ? 'Jobs of every client' : 'Jobs'),
    filters,
    message,
    scrollingTable('jobs', headings, rows),
    more,
  );

  /** How many jobs are shown: a refresh asks for as many again, newest first. */
  let shown = PAGE;

  function query() {
    const params = new URLSearchParams({ limit: String(Math.min(shown, LIST_MAX)) });
    if (status.value !== '') params.set('status', status.value);
    if (label.value.trim() !== '') params.set('label', label.value.trim());
    return `/v1/jobs?${params}`;
  }

  const refresh = refresher(async (isCurrent) => {
    try {
      const page = await listJobs(query());
      if (!isCurrent()) return false;
      message.textContent = '';
      show(
        rows,
        page.jobs.length === 0
          ? el('tr', {}, el('td', { colspan: headings.length, class: 'quiet' }, 'No jobs.'))
          : page.jobs.map((job) => row(job, seeAll)),
      );
      more.hidden = page.next === undefined || shown >= LIST_MAX;
    } catch (error) {
      if (isCurrent()) message.textContent = describe(error);
    }
    return true;
  }, REFRESH_MS);

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    shown = PAGE;
    refresh.now();
  });
  more.addEventListener('click', () => {
    shown += PAGE;
    refresh.now();
  });
  return refresh;
}

/**
 * @param {import('./api.js').ListedJob} job
 * @param {boolean} withOwner
 */
function row(job, withOwner) {
  // A listing cuts long args; the job's own page has them all.
  const command = `${commandLine(job.command, job.args)}${job.argsTruncated === true ? ' …' : ''}`;
  return el(
    'tr',
    { 'data-job': job.id },
    el('td', {}, statusChip(job)),
    el('td', { class: 'command' }, el('a', { href: jobPage(job.id), title: command }, command)),
    el('td', {}, labelChips(job.labels)),
    withOwner && el('td', {}, job.owner),
    el('td', {}, formatTime(job.startedAt ?? job.createdAt)),
    el('td', {}, formatDuration(elapsed(job.startedAt, job.endedAt))),
  );
}
