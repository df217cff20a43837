import { ForbiddenError } from '../errors.js';
import type { Actor } from '../http/actor.js';

export function isAdmin(actor: Actor): boolean {
  return actor.role === 'owner' || actor.role === 'admin';
}

/** Account-wide changes: owner and admins (and the workspace key, which acts as admin). */
export function requireAdmin(actor: Actor): void {
  if (isAdmin(actor)) return;
  if (actor.role === 'viewer') throw new ForbiddenError('read_only_role', 'Viewers can read but not change anything');
  throw new ForbiddenError('admin_required', 'Only the owner or an admin can do this');
}

/** Reads of account-wide objects: every role but fax machines. */
export function requireReader(actor: Actor): void {
  if (actor.role === 'fax') throw new ForbiddenError('not_allowed', 'Fax machine accounts cannot use this endpoint');
}
