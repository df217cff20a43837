import { createRequire } from 'node:module';
import type { Transaction } from 'sequelize';
import type { Location, Models } from '../db/models/index.js';
import { RuleError } from '../errors.js';
import type { ReferencedBy } from '../shared/in-use.js';

// i18n-iso-countries keeps the ISO 3166-1 list current; a hand-copied list goes stale.
const countries = createRequire(import.meta.url)('i18n-iso-countries') as { getAlpha2Codes(): Record<string, string> };
const ALPHA2 = new Set(Object.keys(countries.getAlpha2Codes()));

export function countryAssigned(code: string): void {
  if (!ALPHA2.has(code)) throw new RuleError('unknown_country', `${code} is not an assigned ISO 3166-1 alpha-2 country code`, 'country');
}

export async function locationReferences(models: Models, l: Location, tx: Transaction): Promise<ReferencedBy> {
  const users = await models.User.findAll({ where: { account_id: l.account_id, location_id: l.id }, attributes: ['id'], transaction: tx });
  return { users: users.map((u) => u.id) };
}
