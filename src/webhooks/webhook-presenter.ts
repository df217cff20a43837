import type { Webhook, WebhookDelivery } from '../db/models/index.js';
import { parseEvents } from './webhook-outbox.js';

export function presentWebhook(w: Webhook) {
  return {
    id: w.id,
    url: w.url,
    events: parseEvents(w.events),
    description: w.description,
    active: Boolean(w.active),
    disabled_reason: w.disabled_reason,
    failing_since: w.failing_since ? w.failing_since.toISOString() : null,
    created_at: w.created_at.toISOString(),
    updated_at: w.updated_at.toISOString(),
  };
}
export type WebhookView = ReturnType<typeof presentWebhook>;

export function presentDelivery(d: WebhookDelivery) {
  return {
    id: Number(d.id),
    webhook_id: d.webhook_id,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.status === 'pending' && d.next_attempt_at ? d.next_attempt_at.toISOString() : null,
    last_attempt_at: d.last_attempt_at ? d.last_attempt_at.toISOString() : null,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    last_duration_ms: d.last_duration_ms,
    delivered_at: d.delivered_at ? d.delivered_at.toISOString() : null,
    created_at: d.created_at.toISOString(),
    payload: JSON.parse(d.payload) as unknown,
  };
}
export type DeliveryView = ReturnType<typeof presentDelivery>;
