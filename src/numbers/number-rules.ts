import { Op, type Transaction } from 'sequelize';
import type { Models, PhoneNumber } from '../db/models/index.js';
import { ConflictError, RuleError } from '../errors.js';
import { assertNotReferenced, type ReferencedBy } from '../shared/in-use.js';

export async function e164Free(models: Models, e164: string, exceptId: number | null, tx: Transaction): Promise<void> {
  const other = await models.PhoneNumber.findOne({ where: { e164, ...(exceptId ? { id: { [Op.ne]: exceptId } } : {}) }, attributes: ['id'], transaction: tx });
  // Numbers are global: say it is taken, never by whom (it may be another account's).
  if (other) throw new ConflictError('number_taken', `${e164} is already registered`, 'e164');
}

/** Everything that names this number: users (caller ID, SMS sender), fax services, the account's default caller ID. */
export async function numberReferences(models: Models, n: PhoneNumber, tx: Transaction): Promise<ReferencedBy> {
  const [users, faxServices, account] = await Promise.all([
    models.User.findAll({
      where: { account_id: n.account_id, [Op.or]: [{ external_caller_id_number: n.e164 }, { outbound_sms_number: n.e164 }] },
      attributes: ['id'],
      transaction: tx,
    }),
    models.FaxService.findAll({ where: { account_id: n.account_id, number_id: n.id }, attributes: ['id'], transaction: tx }),
    models.Account.findOne({ where: { id: n.account_id, default_caller_id_number: n.e164 }, attributes: ['id'], transaction: tx }),
  ]);
  return { users: users.map((u) => u.id), fax_services: faxServices.map((f) => f.id), account: account ? [account.id] : [] };
}

/** Users send SMS from the number: it must stay SMS-capable. */
export async function smsStillNeeded(models: Models, n: PhoneNumber, tx: Transaction): Promise<void> {
  const users = await models.User.findAll({ where: { account_id: n.account_id, outbound_sms_number: n.e164 }, attributes: ['id'], transaction: tx });
  assertNotReferenced('number', n.id, { users: users.map((u) => u.id) }, 'made SMS-incapable', 'capabilities.sms');
}

/** Fax services receive on the number: it must stay fax-capable. */
export async function faxStillNeeded(models: Models, n: PhoneNumber, tx: Transaction): Promise<void> {
  const services = await models.FaxService.findAll({ where: { account_id: n.account_id, number_id: n.id }, attributes: ['id'], transaction: tx });
  assertNotReferenced('number', n.id, { fax_services: services.map((f) => f.id) }, 'made fax-incapable', 'capabilities.fax');
}

/** OnCall schedules answer on the number (by id, so renumbering is harmless; deleting it or turning voice off is not). */
export async function scheduleReferences(models: Models, n: PhoneNumber, tx: Transaction): Promise<ReferencedBy> {
  const schedules = await models.OncallSchedule.findAll({ where: { account_id: n.account_id, number_id: n.id }, attributes: ['id'], transaction: tx });
  return { oncall_schedules: schedules.map((s) => s.id) };
}

/** A number's provider must be one of the account's own (and not being deleted). */
export async function providerOfAccount(models: Models, accountId: number, providerId: number, tx: Transaction) {
  const p = await models.TelephonyProvider.findOne({ where: { id: providerId, account_id: accountId, deleted_at: null }, transaction: tx });
  if (!p) throw new RuleError('unknown_provider', `provider_id: no telephony provider ${providerId} in this account`, 'provider_id');
  return p;
}
