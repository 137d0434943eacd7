// @ts-check
// `/`: the client's jobs, and what its role may also use: the start form, its volumes (those
// who start jobs), the host's protections and capacity (admins), the audit trail (admins and
// auditors), each in a tab of its own for those who have more than their jobs.
import { auditView } from './audit-view.js';
import { el, show } from './dom.js';
import { hostView } from './host-view.js';
import { jobsList } from './jobs-list.js';
import { startForm } from './start-form.js';
import { volumesView } from './volumes-view.js';

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
  /** @type {Tab[]} */
  const tabs = [];
  const jobSections = [];
  if (permissions.includes('start')) {
    const section = el('details', { class: 'card', id: 'start' }, el('summary', {}, 'Start a job'));
    parts.push(startForm(section, session));
    jobSections.push(section);
  }
  const jobs = el('section', { class: 'card', id: 'jobs' });
  parts.push(jobsList(jobs, session));
  jobSections.push(jobs);
  tabs.push({ name: 'jobs', label: 'Jobs', sections: jobSections });
  if (permissions.includes('start')) {
    const volumes = el('section', { class: 'card', id: 'volumes' });
    parts.push(volumesView(volumes, session));
    tabs.push({ name: 'volumes', label: 'Volumes', sections: [volumes] });
  }
  if (session.health.capacity !== undefined) {
    const host = el('section', { class: 'card', id: 'host' });
    hostView(host, session.health);
    tabs.push({ name: 'host', label: 'Host', sections: [host] });
  }
  if (permissions.includes('audit')) {
    const audit = el('section', { class: 'card', id: 'audit' });
    parts.push(auditView(audit));
    tabs.push({ name: 'audit', label: 'Audit', sections: [audit] });
  }
  show(main, tabs.length === 1 ? jobSections : tabbed(tabs));
  return {
    close() {
      for (const part of parts) part.close();
    },
  };
}

/** @typedef {{ name: string, label: string, sections: HTMLElement[] }} Tab */

/**
 * The tabs of those who see more than their jobs (admins: jobs, host, audit), one shown at a
 * time instead of one long page; the address keeps which (`?tab=audit`), so a reload or a link
 * opens the same one.
 * @param {Tab[]} tabs
 */
function tabbed(tabs) {
  const bar = el('div', { class: 'tabs', role: 'tablist' });
  const panels = tabs.map(({ name, sections }) =>
    el(
      'div',
      { role: 'tabpanel', id: `tab-${name}`, 'aria-labelledby': `tab-button-${name}` },
      sections,
    ),
  );
  const buttons = tabs.map(({ name, label }) =>
    el(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-button-${name}`,
        'aria-controls': `tab-${name}`,
        onclick: () => select(name, true),
      },
      label,
    ),
  );
  show(bar, buttons);

  /**
   * @param {string} chosen
   * @param {boolean} remember
   */
  function select(chosen, remember) {
    const name = tabs.some((tab) => tab.name === chosen) ? chosen : 'jobs';
    tabs.forEach((tab, index) => {
      const selected = tab.name === name;
      buttons[index]?.setAttribute('aria-selected', String(selected));
      const panel = panels[index];
      if (panel !== undefined) panel.hidden = !selected;
    });
    if (!remember) return;
    const url = new URL(location.href);
    if (name === 'jobs') url.searchParams.delete('tab');
    else url.searchParams.set('tab', name);
    history.replaceState(null, '', url);
  }
  select(new URLSearchParams(location.search).get('tab') ?? 'jobs', false);
  return [bar, ...panels];
}
