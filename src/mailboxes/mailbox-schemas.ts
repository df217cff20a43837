import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';
import { timestamps } from '../shared/schemas.js';

const fields = {
  number: z
    .string()
    .regex(/^\d{1,15}$/, 'must be 1–15 digits')
    .describe('Dialable mailbox number, unique in the account'),
  name: z.string().trim().min(1).max(120),
  pin: z
    .string()
    .regex(/^\d{4,10}$/, 'must be 4–10 digits')
    .nullable()
    .optional()
    .describe('Voicemail PIN (write-only, stored bcrypt-hashed); null removes it. Not the OnCall PIN.'),
  owner_user_id: z.number().int().positive().nullable().optional().describe('User who owns the mailbox'),
  delegates: z
    .array(z.number().int().positive())
    .max(100)
    .optional()
    .describe('User ids the mailbox is delegated to (replaces the whole list); see also PUT /v1/users/{id}/mailbox-delegations/{mailboxId}'),
};

export const CreateMailboxBody = z.object(fields).strict().meta({ id: 'CreateMailbox' });
export const UpdateMailboxBody = CreateMailboxBody.partial().strict().meta({ id: 'UpdateMailbox' });
export type CreateMailboxInput = z.infer<typeof CreateMailboxBody>;
export type UpdateMailboxInput = z.infer<typeof UpdateMailboxBody>;

export const MailboxSchema = z
  .object({
    id: z.number(),
    account_id: z.number(),
    number: z.string(),
    name: z.string(),
    has_pin: z.boolean().describe('Whether a voicemail PIN is set (the PIN is never returned)'),
    owner_user_id: z.number().nullable(),
    new_messages: z.number().describe('Unheard messages (set by PUT /v1/mailboxes/{id}/message-counts; drives MWI)'),
    old_messages: z.number().describe('Heard messages'),
    urgent_new_messages: z.number().describe('Unheard urgent messages (a subset of new_messages)'),
    urgent_old_messages: z.number().describe('Heard urgent messages (a subset of old_messages)'),
    counts_sequence: z.number().describe('Sequence number of the last counts update applied (0: none yet)'),
    counts_updated_at: z.string().nullable(),
    delegates: z.array(z.number()).describe('User ids the mailbox is delegated to'),
    ...timestamps,
  })
  .meta({ id: 'Mailbox' });

export const MailboxListQuery = z
  .object({
    ...PageQuery,
    number: z.string().max(15).optional().describe('Exact mailbox number'),
    name: z.string().max(120).optional().describe('Prefix of the name (case-sensitive)'),
    owner_user_id: z.coerce.number().int().positive().optional(),
  })
  .strict();
export type MailboxListInput = z.infer<typeof MailboxListQuery>;

export const DelegationParams = z.object({
  id: z.coerce.number().int().positive().describe('User id'),
  mailboxId: z.coerce.number().int().positive().describe('Mailbox id'),
});

const count = z.number().int().min(0).max(1_000_000);
export const MessageCountsBody = z
  .object({
    new: count.describe('Unheard messages'),
    old: count.describe('Heard messages'),
    urgent_new: count.optional().describe('Unheard urgent messages (≤ new); default 0'),
    urgent_old: count.optional().describe('Heard urgent messages (≤ old); default 0'),
    sequence: z
      .number()
      .int()
      .min(1)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .describe(
        'Increasing number from the voicemail system: an update older than the last applied one is refused (409 stale_sequence), the same one again changes nothing',
      ),
  })
  .strict()
  .meta({ id: 'MessageCounts' });
export type MessageCountsInput = z.infer<typeof MessageCountsBody>;
