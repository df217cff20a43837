import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';
import { E164 } from '../shared/schemas.js';

export const SendMessageBody = z
  .object({
    to: E164.describe('Destination, E.164'),
    body: z.string().min(1).max(10_000).describe('The text; counted in GSM-7 or UCS-2 segments'),
    user_id: z.number().int().positive().optional().describe("Admins: send as this user (from their outbound_sms_number); default the caller's own user"),
  })
  .strict()
  .meta({ id: 'SendMessage' });
export type SendMessageInput = z.infer<typeof SendMessageBody>;

export const MessageListQuery = z
  .object({
    ...PageQuery,
    user_id: z.coerce.number().int().positive().optional().describe('Messages of this user (plain users: only their own)'),
    number: E164.optional().describe('Messages to or from this number (ours or the other party)'),
    direction: z.enum(['inbound', 'outbound']).optional(),
    since: z.iso.datetime({ offset: true }).optional().describe('Created at or after (ISO 8601)'),
  })
  .strict();
export type MessageListInput = z.infer<typeof MessageListQuery>;

export const MessageDeliverySchema = z
  .object({
    registration_id: z.number(),
    contact: z.string(),
    user_agent: z.string().nullable(),
    status: z.enum(['delivered', 'failed']),
    sip_status: z.number().describe('Final SIP status of the MESSAGE (408: no answer, 503: device not reachable from this node)'),
    reason: z.string().nullable(),
    at: z.string(),
  })
  .meta({ id: 'MessageDelivery' });

export const MessageSchema = z
  .object({
    id: z.number(),
    direction: z.enum(['inbound', 'outbound']),
    user_id: z.number().nullable().describe('Recipient (inbound) or sender (outbound); null = unrouted, for admins'),
    from: z.string(),
    to: z.string(),
    recipients: z.array(z.string()).nullable().describe('Inbound: every recipient the carrier named (more than one: a group message)'),
    body: z.string(),
    encoding: z.enum(['gsm7', 'ucs2']),
    segments: z.number(),
    source: z.enum(['carrier', 'api', 'sip', 'auto']),
    auto: z.boolean().describe('Sent by the auto-responder'),
    in_reply_to: z.number().nullable(),
    status: z.enum(['received', 'unrouted', 'queued', 'sent', 'delivered', 'failed']),
    unrouted_reason: z.string().nullable().describe('no_user, sms_disabled or unknown_number'),
    provider_id: z.number().nullable(),
    provider_message_id: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string().nullable() }).nullable(),
    attempts: z.number(),
    next_attempt_at: z.string().nullable().describe('queued: when the sender job tries again'),
    sent_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    deliveries: z.array(MessageDeliverySchema).optional().describe('GET /v1/messages/{id}, inbound: one per registered device tried'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Message' });
