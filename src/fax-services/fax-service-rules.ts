import type { Transaction } from 'sequelize';
import type { FaxService, Models } from '../db/models/index.js';
import { RuleError } from '../errors.js';
import { requireReference } from '../shared/references.js';
import type { ReferencedBy } from '../shared/in-use.js';

/** The number must be this account's and able to receive faxes. */
export async function faxCapableNumber(models: Models, accountId: number, numberId: number, tx: Transaction): Promise<void> {
  const n = await requireReference(models.PhoneNumber, accountId, numberId, 'number', 'number_id', tx);
  if (!n.fax) throw new RuleError('number_not_fax_capable', `${n.e164} cannot receive faxes; turn on its fax capability first`, 'number_id');
}

export async function faxServiceReferences(models: Models, f: FaxService, tx: Transaction): Promise<ReferencedBy> {
  const users = await models.User.findAll({ where: { account_id: f.account_id, fax_service_id: f.id }, attributes: ['id'], transaction: tx });
  return { users: users.map((u) => u.id) };
}
