// @ts-check
// The console: who the certificate says we are, then the page the path names. `/` lists the
// client's jobs (with the start form, and the host or the audit trail for the roles that may see
// them); `/jobs/{id}` is one job. Links inside the console change the view without a reload.
import { describe, getJson } from './api.js';
import { el, show } from './dom.js';
import { homeView } from './home-view.js';

/**
 * A view owns what it opened (timers, sockets) and lets go of it when another replaces it.
 * @typedef {{ close(): void }} View
 * @typedef {import('./api.js').Health} Health
 * @typedef {{ health: Health, navigate(path: string): void }} Session
 */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const who = /** @type {HTMLElement} */ (document.getElementById('who'));
/** @type {View | undefined} */
let current;

/** @param {Session} session */
function route(session) {
  current?.close();
  const id = /^\/jobs\/([^/]+)\/?$/.exec(location.pathname)?.[1];
  current = id === undefined ? homeView(main, session) : lazyJobView(session, decoded(id));
}

/**
 * A job's page, its code (output rendering, anser, the terminal) loaded when first opened: the
 * list, where most visits start, stays small.
 * @param {Session} session
 * @param {string} id
 * @returns {View}
 */
function lazyJobView(session, id) {
  let closed = false;
  /** @type {View | undefined} */
  let view;
  void import('./job-view.js')
    .then(({ jobView }) => {
      if (!closed) view = jobView(main, session, id);
    })
    .catch((error) => {
      if (!closed) show(main, el('p', { class: 'error' }, String(error)));
    });
  return {
    close() {
      closed = true;
      view?.close();
    },
  };
}

/** A path's segment as written; one that is not valid percent-encoding is taken as it is. @param {string} segment */
function decoded(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function start() {
  /** @type {Health} */
  let health;
  try {
    health = await getJson('/healthz');
  } catch (error) {
    show(main, el('p', { class: 'error' }, describe(error)));
    return;
  }
  show(
    who,
    el('span', {}, health.client.name),
    ' ',
    el('span', { class: 'role' }, health.client.role),
  );
  /** @type {Session} */
  const session = {
    health,
    navigate(path) {
      history.pushState(null, '', path);
      route(session);
    },
  };
  // Same-origin links change the view in place; others (downloads, new tabs) are the browser's.
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a') : null;
    if (link === null || link.origin !== location.origin || link.hasAttribute('download')) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    if (!(link.pathname === '/' || link.pathname.startsWith('/jobs/'))) return;
    event.preventDefault();
    session.navigate(link.pathname + link.search);
  });
  addEventListener('popstate', () => route(session));
  route(session);
}

void start();
