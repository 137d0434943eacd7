// @ts-check
// The host as admins see it (/healthz): how jobs are confined here, and how much of the host's
// memory running jobs hold.
import { el, factList, formatBytes, show } from './dom.js';

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
    factList([
      ['cgroups', protections.cgroups],
      ['enforced limits', protections.enforceableLimits.join(', ') || 'none'],
      ['PID namespace', yesNo(protections.pidNamespace)],
      ['network namespace', yesNo(protections.networkNamespace)],
      ['mount namespace', yesNo(protections.mountNamespace)],
      ['job user', protections.jobUser],
      ['private root per job', yesNo(sandbox.privateRoot)],
      ['own uid per client', yesNo(sandbox.uidPerClient)],
      ['system-call filter', yesNo(sandbox.seccomp)],
      ["host's filesystem for", sandbox.hostFilesystemRoles.join(', ') || 'nobody'],
      ['egress on this host', yesNo(protections.egress)],
      ['network by default', protections.network.default],
      ['egress network for', protections.network.egressRoles.join(', ') || 'nobody'],
      ["host's network for", protections.network.hostRoles.join(', ') || 'nobody'],
      [
        'memory for jobs',
        capacity?.memoryBytes === null ? 'unbounded' : formatBytes(capacity?.memoryBytes),
      ],
      ['reserved by running jobs', formatBytes(capacity?.reservedMemoryBytes)],
      ['jobs waiting', capacity?.queued ?? 0],
    ]),
  );
}
