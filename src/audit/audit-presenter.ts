import type { z } from 'zod';
import type { AuditEntry } from '../db/models/index.js';
import { iso } from '../shared/schemas.js';
import type { AuditEntrySchema } from './audit-schemas.js';

export type AuditEntryView = z.infer<typeof AuditEntrySchema>;

// MariaDB's JSON is LONGTEXT: the driver hands back the text.
function json(v: unknown): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  return (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;
}

/** before/after were redacted when the entry was written; nothing secret is stored to leak here. */
export function presentAuditEntry(e: AuditEntry): AuditEntryView {
  return {
    id: Number(e.id),
    actor_type: e.actor_type as AuditEntryView['actor_type'],
    actor_id: e.actor_id,
    action: e.action,
    target_type: e.target_type,
    target_id: e.target_id,
    before: json(e.before),
    after: json(e.after),
    source_ip: e.source_ip,
    created_at: iso(e.created_at),
  };
}
