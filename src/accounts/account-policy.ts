import { ForbiddenError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { isAdmin } from '../shared/policy.js';

/**
 * Account settings, members, keys and webhooks: the owner and admins (the
 * workspace key acts as an admin). Everyone else, viewers included, gets the
 * one code the issue names, so a UI can show one message.
 */
export function requireAccountAdmin(actor: Actor): void {
  if (!isAdmin(actor)) throw new ForbiddenError('admin_required', 'Only the owner or an admin can see or change workspace settings');
}

export function requireOwner(actor: Actor): void {
  if (actor.role !== 'owner' || actor.kind === 'system') throw new ForbiddenError('owner_required', 'Only the workspace owner can do this');
}
