// @ts-check
// The caller's volumes (GET /v1/volumes; an admin's listing has every client's): each one's
// size, what its files take, and a link that downloads its content as a tar (GET
// /v1/volumes/{name}/archive), for the caller's own: another client's archive is not theirs.
import { describe, getJson } from './api.js';
import { el, formatBytes, formatTime, scrollingTable, show } from './dom.js';

/** @typedef {import('../../contract/volumes.ts').VolumeAnswer} Volume */

/** The first page is enough here: a user keeps at most a few dozen volumes (its budget). */
const LISTED = '/v1/volumes?limit=1000';

/**
 * @param {HTMLElement} section
 * @param {import('./app.js').Session} session
 * @returns {import('./app.js').View}
 */
export function volumesView(section, session) {
  let closed = false;
  show(section, el('h2', {}, 'Volumes'), el('p', { class: 'quiet' }, 'Loading…'));
  void getJson(LISTED)
    .then((/** @type {{ volumes: Volume[] }} */ { volumes }) => {
      if (!closed) show(section, el('h2', {}, 'Volumes'), listing(volumes, session));
    })
    .catch((/** @type {unknown} */ error) => {
      if (!closed)
        show(section, el('h2', {}, 'Volumes'), el('p', { class: 'error' }, describe(error)));
    });
  return {
    close() {
      closed = true;
    },
  };
}

/**
 * @param {Volume[]} volumes
 * @param {import('./app.js').Session} session
 */
function listing(volumes, session) {
  if (volumes.length === 0) {
    return el(
      'p',
      { class: 'quiet' },
      'No volumes. Make one with: jobctl volume create NAME --size 256M',
    );
  }
  const mine = session.health.client.name;
  const body = el(
    'tbody',
    {},
    volumes.map((volume) =>
      el(
        'tr',
        {},
        el('td', {}, volume.name),
        el('td', {}, formatBytes(volume.sizeBytes)),
        el('td', {}, `${formatBytes(volume.usedBytes)} (${percent(volume)})`),
        el('td', {}, formatTime(volume.createdAt)),
        el('td', {}, volume.client),
        el('td', {}, volume.client === mine ? downloadLink(volume) : ''),
      ),
    ),
  );
  return scrollingTable('volumes', ['Name', 'Size', 'Used', 'Created', 'Client', ''], body);
}

/** @param {Volume} volume */
function percent(volume) {
  return `${Math.round((100 * volume.usedBytes) / volume.sizeBytes)}%`;
}

/** @param {Volume} volume */
function downloadLink(volume) {
  return el(
    'a',
    {
      href: `/v1/volumes/${encodeURIComponent(volume.name)}/archive?path=%2F`,
      download: `${volume.name}.tar`,
    },
    'download .tar',
  );
}
