// @ts-check
// `/`: the client's jobs, and what its role may also use: the start form, the host's
// protections and capacity (admins), the audit trail (admins and auditors).
import { auditView } from './audit-view.js';
import { el, show } from './dom.js';
import { hostView } from './host-view.js';
import { jobsList } from './jobs-list.js';
import { startForm } from './start-form.js';

/**
 * @param {HTMLElement} main
 * @param {import('./app.js').Session} session
 * @returns {import('./app.js').View}
 */
export function homeView(main, session) {
  document.title = 'jobworker';
  const { permissions } = session.health;
  /** @type {import('./app.js').View[]} */
  const parts = [];
  const sections = [];
  if (permissions.includes('start')) {
    const section = el('details', { class: 'card', id: 'start' }, el('summary', {}, 'Start a job'));
    parts.push(startForm(section, session));
    sections.push(section);
  }
  const jobs = el('section', { class: 'card', id: 'jobs' });
  parts.push(jobsList(jobs, session));
  sections.push(jobs);
  if (session.health.capacity !== undefined) {
    const host = el('section', { class: 'card', id: 'host' });
    hostView(host, session.health);
    sections.push(host);
  }
  if (permissions.includes('audit')) {
    const audit = el('section', { class: 'card', id: 'audit' });
    parts.push(auditView(audit));
    sections.push(audit);
  }
  show(main, sections);
  return {
    close() {
      for (const part of parts) part.close();
    },
  };
}
