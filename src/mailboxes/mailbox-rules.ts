import { Op, type Transaction } from 'sequelize';
import type { Mailbox, Models } from '../db/models/index.js';
import { ConflictError } from '../errors.js';
import { requireReference } from '../shared/references.js';
import type { ReferencedBy } from '../shared/in-use.js';

export async function numberFreeInAccount(models: Models, accountId: number, number: string, exceptId: number | null, tx: Transaction): Promise<void> {
  const other = await models.Mailbox.findOne({
    where: { account_id: accountId, number, ...(exceptId ? { id: { [Op.ne]: exceptId } } : {}) },
    attributes: ['id'],
    transaction: tx,
  });
  if (other) throw new ConflictError('mailbox_number_taken', `Mailbox number ${number} is already used by mailbox ${other.id}`, 'number');
}

export async function usersOfAccount(
  models: Models,
  accountId: number,
  refs: { owner_user_id?: number | null | undefined; delegates?: number[] | undefined },
  tx: Transaction,
): Promise<void> {
  if (refs.owner_user_id) await requireReference(models.User, accountId, refs.owner_user_id, 'user', 'owner_user_id', tx);
  for (const [i, id] of (refs.delegates ?? []).entries()) await requireReference(models.User, accountId, id, 'user', `delegates.${i}`, tx);
}

/** A mailbox in use: some user's primary mailbox, or delegated to users. */
export async function mailboxReferences(models: Models, m: Mailbox, tx: Transaction): Promise<ReferencedBy> {
  const [primaryOf, delegations] = await Promise.all([
    models.User.findAll({ where: { account_id: m.account_id, mailbox_id: m.id }, attributes: ['id'], transaction: tx }),
    models.MailboxDelegation.findAll({ where: { mailbox_id: m.id }, attributes: ['user_id'], transaction: tx }),
  ]);
  return { users: primaryOf.map((u) => u.id), delegated_users: delegations.map((d) => d.user_id) };
}
