import type { z } from 'zod';
import type { TelephonyProvider } from '../db/models/index.js';
import { iso } from '../shared/schemas.js';
import type { ProviderSchema } from './provider-schemas.js';

export type ProviderView = z.infer<typeof ProviderSchema>;

/** The URL a carrier posts inbound SMS to (its status callbacks go to the same URL + /status); null for a SIP trunk. */
export function smsWebhookUrl(publicUrl: string, p: Pick<TelephonyProvider, 'id' | 'type'>): string | null {
  if (p.type === 'sip_trunk') return null;
  return `${publicUrl.replace(/\/+$/, '')}/v1/telephony/providers/${p.id}/sms`;
}

/** Whitelisted output: credentials never leave, only their hint. */
export function presentProvider(p: TelephonyProvider, publicUrl = ''): ProviderView {
  const trunk = p.type === 'sip_trunk';
  return {
    id: p.id,
    account_id: p.account_id,
    type: p.type,
    name: p.name,
    enabled: Boolean(p.enabled),
    credentials_hint: `••••${p.credentials_hint}`,
    settings: JSON.parse(p.settings) as Record<string, unknown>,
    sms_webhook_url: smsWebhookUrl(publicUrl, p),
    last_synced_at: p.last_synced_at ? iso(p.last_synced_at) : null,
    last_sync_error: p.last_sync_error ?? null,
    registration: trunk
      ? {
          state: registrationState(p),
          last_status: p.reg_last_status ?? null,
          last_error: p.reg_last_error ?? null,
          expires_at: p.reg_expires_at ? iso(p.reg_expires_at) : null,
          since: p.reg_since ? iso(p.reg_since) : null,
        }
      : null,
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
  };
}

function registrationState(p: TelephonyProvider): 'registering' | 'registered' | 'failed' | 'disabled' {
  const settings = JSON.parse(p.settings) as { register?: boolean };
  if (!p.enabled || !settings.register) return 'disabled';
  return p.reg_state && p.reg_state !== 'disabled' ? p.reg_state : 'registering';
}
