import { Op, type Transaction } from 'sequelize';
import type { Account, Models, User } from '../db/models/index.js';
import { RuleError } from '../errors.js';

/** Small named rules for members, grouped as in src/users/user-rules.ts. */

export function ownerNotRemoved(user: User): void {
  if (user.role === 'owner')
    throw new RuleError(
      'owner_cannot_be_removed',
      'The owner cannot be removed from the workspace; transfer ownership first (POST /v1/account/transfer-ownership)',
    );
}

export function ownerCannotLeave(user: User): void {
  if (user.role === 'owner') throw new RuleError('owner_cannot_leave', 'The owner cannot leave the workspace; transfer ownership to an active admin first');
}

export function transferTargetIsActiveAdmin(target: User, currentOwnerId: number | null): void {
  if (target.id === currentOwnerId) throw new RuleError('already_owner', 'This member already owns the workspace', 'user_id');
  if (target.role !== 'admin' || target.status !== 'active') {
    throw new RuleError(
      'transfer_target_not_admin',
      `Ownership can only go to an active admin; member ${target.id} is ${target.status} ${target.role}. Make them an admin first`,
      'user_id',
    );
  }
}

export function passwordStrongEnough(password: string): void {
  if (password.length < 10) throw new RuleError('weak_password', 'The password needs at least 10 characters', 'password');
}

/**
 * The lowest free extension of the account's shortest allowed length (e.g.
 * 100–999), then the next length: invitees get a working extension without the
 * inviter having to pick one, and an admin can change it later.
 */
export async function nextFreeExtension(models: Models, account: Account, tx: Transaction): Promise<string> {
  for (let len = account.extension_min_length; len <= account.extension_max_length; len++) {
    const first = 10 ** (len - 1);
    const last = 10 ** len - 1;
    const used = await models.User.findAll({
      where: { account_id: account.id, extension: { [Op.between]: [String(first), String(last)] } },
      attributes: ['extension'],
      transaction: tx,
    });
    const taken = new Set(used.map((u) => u.extension).filter((e) => e.length === len));
    for (let n = first; n <= last; n++) if (!taken.has(String(n))) return String(n);
  }
  throw new RuleError('no_free_extension', 'Every extension of this account is taken; widen the extension length range');
}

/** "Jane.Doe+x@acme.com" in sip domain "acme.example" → "jane.doe-x.acme", then -2, -3… if taken. */
export async function usernameFromEmail(models: Models, email: string, sipDomain: string, tx: Transaction): Promise<string> {
  let local = email
    .split('@')[0]!
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  if (!local || /^\d+$/.test(local)) local = `member${local}`;
  const base = `${local}.${sipDomain.split('.')[0]}`.slice(0, 56);
  for (let i = 1; i < 1000; i++) {
    const candidate = i === 1 ? base : `${base}-${i}`;
    if (!(await models.User.findOne({ where: { username: candidate }, attributes: ['id'], transaction: tx }))) return candidate;
  }
  throw new RuleError('username_unavailable', 'Could not derive a free username from this email');
}
