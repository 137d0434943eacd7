// What each role may do: the one table that authorisation reads. `seeAll` is not an action but a
// scope: without it a caller's queries only ever reach its own jobs.
import { ACTIONS, type Action } from '../contract/health.ts';
import type { Role } from '../pki/roles.ts';

export type { Action };

/** `input` is the owner's alone: even a role that sees every job may not write to another's. */
export const PERMISSIONS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  admin: new Set(['start', 'read', 'input', 'stop', 'delete', 'seeAll', 'audit', 'metrics']),
  user: new Set(['start', 'read', 'input', 'stop', 'delete']),
  auditor: new Set(['read', 'seeAll', 'audit', 'metrics']),
};

export function may(role: Role, action: Action): boolean {
  return PERMISSIONS[role].has(action);
}

/** What a role may do, in the contract's order: /healthz tells each caller its own. */
export function permissionsOf(role: Role): Action[] {
  return ACTIONS.filter((action) => may(role, action));
}
