import { Op, type Transaction } from 'sequelize';
import type { Models, TelephonyProvider } from '../db/models/index.js';
import { ConflictError, ValidationError } from '../errors.js';
import { zodIssueToField } from '../http/route.js';
import { numberReferences } from '../numbers/number-rules.js';
import type { ReferencedBy } from '../shared/in-use.js';
import {
  PlivoCredentialsInput,
  TelnyxCredentialsInput,
  TelnyxSettingsInput,
  TrunkCredentialsInput,
  TrunkSettingsInput,
  TwilioCredentialsInput,
} from './provider-schemas.js';
import type { ProviderType } from '../db/models/telephony-provider.js';

export async function nameFree(models: Models, accountId: number, name: string, exceptId: number | null, tx: Transaction): Promise<void> {
  const other = await models.TelephonyProvider.findOne({
    where: { account_id: accountId, name, deleted_at: null, ...(exceptId ? { id: { [Op.ne]: exceptId } } : {}) },
    attributes: ['id'],
    transaction: tx,
  });
  if (other) throw new ConflictError('name_taken', `A provider named "${name}" exists already`, 'name');
}

/** PATCH sends credentials as a loose object; they must be the whole object of the provider's type. */
export function parseCredentials(type: ProviderType, raw: unknown): Record<string, string> {
  const schema = { twilio: TwilioCredentialsInput, telnyx: TelnyxCredentialsInput, plivo: PlivoCredentialsInput, sip_trunk: TrunkCredentialsInput }[type];
  const r = schema.safeParse(raw);
  if (!r.success) throw new ValidationError(r.error.issues.map((i) => zodIssueToField(i, 'credentials.')));
  return r.data;
}

export function parseTrunkSettings(raw: unknown): ReturnType<typeof TrunkSettingsInput.parse> {
  const r = TrunkSettingsInput.safeParse(raw);
  if (!r.success) throw new ValidationError(r.error.issues.map((i) => zodIssueToField(i, 'settings.')));
  return r.data;
}

export function parseTelnyxSettings(raw: unknown): ReturnType<typeof TelnyxSettingsInput.parse> {
  const r = TelnyxSettingsInput.safeParse(raw);
  if (!r.success) throw new ValidationError(r.error.issues.map((i) => zodIssueToField(i, 'settings.')));
  return r.data;
}

/** The secret part's last four characters: enough to tell two credentials apart, useless to an attacker. */
export function credentialsHint(type: ProviderType, c: Record<string, string>): string {
  const secret = type === 'telnyx' ? c.api_key : type === 'sip_trunk' ? c.password : c.auth_token;
  return (secret ?? '').slice(-4);
}

/** What still points at any of the provider's numbers (caller ID, SMS sender, fax service, account default). */
export async function providerReferences(models: Models, p: TelephonyProvider, tx: Transaction): Promise<ReferencedBy> {
  const numbers = await models.PhoneNumber.findAll({ where: { provider_id: p.id }, transaction: tx });
  const out: ReferencedBy = { users: [], fax_services: [], account: [], numbers: [] };
  for (const n of numbers) {
    const refs = await numberReferences(models, n, tx);
    const used = Object.values(refs).some((ids) => ids.length);
    if (used) out.numbers!.push(n.id);
    for (const [k, ids] of Object.entries(refs)) out[k] = [...(out[k] ?? []), ...ids];
  }
  return out;
}
