/**
 * Every event a webhook can subscribe to. registration.* come from the
 * registrar, oncall.reminder_sent from the OnCall scheduler; both call
 * WebhookOutbox.enqueue inside their own transaction; emergency.location_missing
 * comes from the call-plan area when a 911 plan finds no location.
 */
export const WEBHOOK_EVENTS = [
  'user.created',
  'user.updated',
  'user.deleted',
  'registration.created',
  'registration.refreshed',
  'registration.removed',
  'registration.expired',
  'registration.rejected',
  'member.invited',
  'member.joined',
  'member.removed',
  'account.owner_transferred',
  'api_key.created',
  'api_key.revoked',
  'oncall.reminder_sent',
  'emergency.location_missing',
  'numbers.synced',
  'telephony.provider_status_changed',
  'sms.received',
  'mailbox.message_counts_changed',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Sent only by POST /v1/webhooks/{id}/test; not subscribable. */
export const PING_EVENT = 'webhook.ping';
