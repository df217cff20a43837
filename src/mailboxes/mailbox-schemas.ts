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
    new_messages: z.number().describe('Unheard messages (read-only; drives MWI)'),
    old_messages: z.number().describe('Heard messages (read-only)'),
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
