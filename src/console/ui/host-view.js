// @ts-check
// The host as admins see it (/healthz): how jobs are confined here, and how much of the host's
// memory running jobs hold.
import { el, formatBytes, show } from './dom.js';

/** @param {boolean} on */
const yesNo = (on) => el('span', { class: on ? 'ok' : 'bad' }, on ? 'yes' : 'no');

/**
 * @param {HTMLElement} section
 * @param {import('./api.js').Health} health
 */
export function hostView(section, health) {
  const { protections, capacity } = health;
  const { sandbox } = protections;
  show(
    section,
    el('h2', {}, 'Host'),
    el(
      'dl',
      { class: 'facts' },
      el('dt', {}, 'cgroups'),
      el('dd', {}, protections.cgroups),
      el('dt', {}, 'enforced limits'),
      el('dd', {}, protections.enforceableLimits.join(', ') || 'none'),
      el('dt', {}, 'PID namespace'),
      el('dd', {}, yesNo(protections.pidNamespace)),
      el('dt', {}, 'network namespace'),
      el('dd', {}, yesNo(protections.networkNamespace)),
      el('dt', {}, 'mount namespace'),
      el('dd', {}, yesNo(protections.mountNamespace)),
      el('dt', {}, 'job user'),
      el('dd', {}, protections.jobUser),
      el('dt', {}, 'private root per job'),
      el('dd', {}, yesNo(sandbox.privateRoot)),
      el('dt', {}, 'own uid per client'),
      el('dd', {}, yesNo(sandbox.uidPerClient)),
      el('dt', {}, 'system-call filter'),
      el('dd', {}, yesNo(sandbox.seccomp)),
      el('dt', {}, "host's filesystem for"),
      el('dd', {}, sandbox.hostFilesystemRoles.join(', ') || 'nobody'),
      el('dt', {}, 'memory for jobs'),
      el(
        'dd',
        {},
        capacity?.memoryBytes === null ? 'unbounded' : formatBytes(capacity?.memoryBytes),
      ),
      el('dt', {}, 'reserved by running jobs'),
      el('dd', {}, formatBytes(capacity?.reservedMemoryBytes)),
      el('dt', {}, 'jobs waiting'),
      el('dd', {}, capacity?.queued ?? 0),
    ),
  );
}
