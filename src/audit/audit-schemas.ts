import { z } from 'zod';
import { PageQuery } from '../shared/pagination.js';

export const AuditEntrySchema = z
  .object({
    id: z.number(),
    actor_type: z.enum(['user', 'api_key', 'workspace_key', 'system']).describe('What kind of credential acted'),
    actor_id: z.string().nullable().describe('e.g. "user:12", a key token, or "system"'),
    action: z.string().describe('e.g. user.updated, number.deleted'),
    target_type: z.string(),
    target_id: z.string().nullable(),
    before: z.record(z.string(), z.unknown()).nullable().describe('Changed fields before (secrets redacted)'),
    after: z.record(z.string(), z.unknown()).nullable().describe('Changed fields after (secrets redacted)'),
    source_ip: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'AuditEntry' });

export const AuditListQuery = z
  .object({
    ...PageQuery,
    actor_id: z.string().max(64).optional().describe('Exact actor, e.g. user:12'),
    action: z.string().max(64).optional().describe('Exact action, e.g. user.updated'),
    target_type: z.string().max(40).optional(),
    target_id: z.string().max(64).optional(),
    since: z.iso.datetime({ offset: true }).optional().describe('Entries at or after this time (ISO 8601)'),
    until: z.iso.datetime({ offset: true }).optional().describe('Entries before this time (ISO 8601)'),
  })
  .strict();
export type AuditListInput = z.infer<typeof AuditListQuery>;
