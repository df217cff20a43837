import type { z } from 'zod';
import type { PhoneNumber } from '../db/models/index.js';
import { iso } from '../shared/schemas.js';
import type { NumberSchema } from './number-schemas.js';

export type NumberView = z.infer<typeof NumberSchema>;

export function presentNumber(n: PhoneNumber): NumberView {
  return {
    id: n.id,
    account_id: n.account_id,
    e164: n.e164,
    label: n.label,
    capabilities: { voice: Boolean(n.voice), sms: Boolean(n.sms), fax: Boolean(n.fax), mms: Boolean(n.mms) },
    provider: n.provider,
    provider_id: n.provider_id ?? null,
    provider_missing: Boolean(n.provider_missing),
    created_at: iso(n.created_at),
    updated_at: iso(n.updated_at),
  };
}
