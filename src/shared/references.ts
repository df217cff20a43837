import type { ModelStatic, Model, Transaction } from 'sequelize';
import { NotFoundError, RuleError } from '../errors.js';

/**
 * Loads an object of the actor's account or fails. Ids of another account
 * behave exactly like ids that do not exist.
 */
export async function findInAccount<M extends Model>(model: ModelStatic<M>, accountId: number, id: number, what: string, tx?: Transaction): Promise<M> {
  const row = await model.findOne({ where: { id, account_id: accountId } as never, transaction: tx });
  if (!row) throw new NotFoundError(what, id);
  return row;
}

/** The same check for a reference inside a request body: 422 naming the field. */
export async function requireReference<M extends Model>(
  model: ModelStatic<M>,
  accountId: number,
  id: number,
  what: string,
  field: string,
  tx?: Transaction,
): Promise<M> {
  const row = await model.findOne({ where: { id, account_id: accountId } as never, transaction: tx });
  if (!row) throw new RuleError(`unknown_${what}`, `${field}: no ${what.replace(/_/g, ' ')} ${id} in this account`, field);
  return row;
}
