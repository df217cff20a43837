import { Op, type Transaction } from 'sequelize';
import type { Account, Models, User } from '../db/models/index.js';
import { ConflictError, RuleError } from '../errors.js';
import { requireReference } from '../shared/references.js';
import type { ForwardBehavior } from '../db/models/user.js';

/**
 * The user rules, each a small named check (wazo-confd style). Each throws a
 * domain error with its own code and the field at fault.
 */

export function extensionFitsAccount(account: Account, extension: string): void {
  const { extension_min_length: min, extension_max_length: max } = account;
  if (extension.length < min || extension.length > max) {
    throw new RuleError('extension_length', `Extensions in this account have ${min === max ? min : `${min}–${max}`} digits`, 'extension');
  }
}

export async function extensionFree(models: Models, accountId: number, extension: string, exceptUserId: number | null, tx: Transaction): Promise<void> {
  const other = await models.User.findOne({
    where: { account_id: accountId, extension, ...(exceptUserId ? { id: { [Op.ne]: exceptUserId } } : {}) },
    attributes: ['id'],
    transaction: tx,
  });
  if (other) throw new ConflictError('extension_taken', `Extension ${extension} is already used by user ${other.id}`, 'extension');
}

export async function usernameFree(models: Models, username: string, exceptUserId: number | null, tx: Transaction): Promise<void> {
  const other = await models.User.findOne({
    where: { username, ...(exceptUserId ? { id: { [Op.ne]: exceptUserId } } : {}) },
    attributes: ['id'],
    transaction: tx,
  });
  // Usernames are global: say it is taken, never by whom (it may be another account's).
  if (other) throw new ConflictError('username_taken', `Username ${username} is already taken`, 'username');
}

export function usernameNotNumeric(username: string): void {
  // Phones may authenticate with the extension instead of the username; an
  // all-digit username could then be mistaken for another user's extension.
  if (/^\d+$/.test(username)) throw new RuleError('username_numeric', 'A username cannot be all digits (digits identify extensions)', 'username');
}

export async function numberOfAccount(models: Models, accountId: number, e164: string, field: string, needSms: boolean, tx: Transaction): Promise<void> {
  const n = await models.PhoneNumber.findOne({ where: { account_id: accountId, e164 }, transaction: tx });
  if (!n) throw new RuleError('number_not_in_account', `${e164} is not a number of this account; add it at /v1/numbers first`, field);
  if (needSms && !n.sms) throw new RuleError('number_not_sms_capable', `${e164} cannot send SMS`, field);
}

export function forwardBehaviorComplete(fb: ForwardBehavior): void {
  const needs = fb.mode === 'forward_always' || fb.mode === 'forward_on_no_answer' || fb.mode === 'forward_on_busy';
  if (needs && !fb.destination)
    throw new RuleError('forward_destination_required', `Forward mode ${fb.mode} needs a destination`, 'forward_behavior.destination');
}

export function autoResponderHasText(enabled: boolean, text: string | null | undefined): void {
  if (enabled && !text)
    throw new RuleError('auto_response_text_required', 'Turning the SMS auto-responder on needs sms_auto_response_text', 'sms_auto_response_text');
}

export async function referencesExist(
  models: Models,
  accountId: number,
  refs: { location_id?: number | null | undefined; fax_service_id?: number | null | undefined; mailbox_delegations?: number[] | undefined },
  tx: Transaction,
): Promise<void> {
  if (refs.location_id) await requireReference(models.Location, accountId, refs.location_id, 'location', 'location_id', tx);
  if (refs.fax_service_id) await requireReference(models.FaxService, accountId, refs.fax_service_id, 'fax_service', 'fax_service_id', tx);
  for (const [i, id] of (refs.mailbox_delegations ?? []).entries()) {
    await requireReference(models.Mailbox, accountId, id, 'mailbox', `mailbox_delegations.${i}`, tx);
  }
}

export function ownerKeepsRole(user: User, newRole: string | undefined): void {
  if (user.role === 'owner' && newRole !== undefined && newRole !== 'owner') {
    throw new RuleError('owner_cannot_be_demoted', 'The owner keeps the owner role; transfer ownership first', 'role');
  }
}

export function ownerNotDeleted(user: User): void {
  if (user.role === 'owner') throw new RuleError('owner_cannot_be_deleted', 'The owner cannot be deleted; transfer ownership first');
}

/** Disabling is for people who still belong to the workspace but must stop for now; the owner and oneself are not disabled. */
export function statusChangeAllowed(actor: { userId: number | null }, user: User, status: 'active' | 'disabled' | undefined): void {
  if (status !== 'disabled' || user.status === 'disabled') return;
  if (user.role === 'owner') throw new RuleError('owner_cannot_be_disabled', 'The owner cannot be disabled; transfer ownership first', 'status');
  if (actor.userId === user.id) throw new RuleError('cannot_disable_self', 'You cannot disable yourself; ask another admin', 'status');
}
