import type { z } from 'zod';
import type { Message, MessageDelivery } from '../db/models/index.js';
import { iso } from '../shared/schemas.js';
import type { MessageSchema } from './message-schemas.js';

export type MessageView = z.infer<typeof MessageSchema>;

export function presentMessage(m: Message, deliveries?: MessageDelivery[]): MessageView {
  const inbound = m.direction === 'inbound';
  return {
    id: Number(m.id),
    direction: m.direction,
    user_id: m.user_id ?? null,
    from: inbound ? m.peer_number : m.our_number,
    to: inbound ? m.our_number : m.peer_number,
    recipients: m.recipients ? (JSON.parse(m.recipients) as string[]) : null,
    body: m.body,
    encoding: m.encoding as MessageView['encoding'],
    segments: m.segments,
    source: m.source,
    auto: Boolean(m.auto),
    in_reply_to: m.in_reply_to != null ? Number(m.in_reply_to) : null,
    status: m.status,
    unrouted_reason: m.unrouted_reason ?? null,
    provider_id: m.provider_id ?? null,
    provider_message_id: m.provider_message_id ?? null,
    error: m.error_code ? { code: m.error_code, message: m.error_message ?? null } : null,
    attempts: m.attempts ?? 0,
    next_attempt_at: m.status === 'queued' && m.next_attempt_at ? iso(m.next_attempt_at) : null,
    sent_at: m.sent_at ? iso(m.sent_at) : null,
    delivered_at: m.delivered_at ? iso(m.delivered_at) : null,
    ...(deliveries
      ? {
          deliveries: deliveries.map((d) => ({
            registration_id: Number(d.registration_id),
            contact: d.contact,
            user_agent: d.user_agent ?? null,
            status: d.status,
            sip_status: d.sip_status,
            reason: d.reason ?? null,
            at: iso(d.created_at),
          })),
        }
      : {}),
    created_at: iso(m.created_at),
    updated_at: iso(m.updated_at),
  };
}
