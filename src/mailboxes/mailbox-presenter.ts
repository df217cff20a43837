import type { z } from 'zod';
import type { Mailbox } from '../db/models/index.js';
import { iso } from '../shared/schemas.js';
import type { MailboxSchema } from './mailbox-schemas.js';

export type MailboxView = z.infer<typeof MailboxSchema>;

/** The PIN hash never leaves: only whether one is set. */
export function presentMailbox(m: Mailbox, delegates: number[]): MailboxView {
  return {
    id: m.id,
    account_id: m.account_id,
    number: m.number,
    name: m.name,
    has_pin: Boolean(m.pin_hash),
    owner_user_id: m.owner_user_id,
    new_messages: m.new_messages,
    old_messages: m.old_messages,
    urgent_new_messages: m.urgent_new_messages ?? 0,
    urgent_old_messages: m.urgent_old_messages ?? 0,
    counts_sequence: Number(m.counts_seq ?? 0),
    counts_updated_at: m.counts_updated_at ? iso(m.counts_updated_at) : null,
    delegates: [...delegates].sort((a, b) => a - b),
    created_at: iso(m.created_at),
    updated_at: iso(m.updated_at),
  };
}
