import type { Transaction } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';

/** Field names whose values never enter an audit entry, at any depth. */
const SECRET_KEYS = /(password|secret|pin|token|otp|ha1|_enc$|_hash$)/i;

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_KEYS.test(k)) {
        if (v !== undefined && v !== null) out[k] = '[redacted]';
      } else out[k] = redact(v);
    }
    return out;
  }
  return value;
}

export interface AuditChange {
  action: string;
  targetType: string;
  targetId: string | number | null;
  before?: object | null;
  after?: object | null;
}

/** Writes one audit entry inside the caller's transaction, so the change and its record commit together. */
export class AuditLog {
  constructor(private readonly models: Models) {}

  async record(tx: Transaction, actor: Actor, change: AuditChange): Promise<void> {
    await this.models.AuditEntry.create(
      {
        account_id: actor.accountId,
        actor_type: actor.kind,
        actor_id: actor.actorId,
        action: change.action,
        target_type: change.targetType,
        target_id: change.targetId === null ? null : String(change.targetId),
        before: change.before ? (redact(change.before) as Record<string, unknown>) : null,
        after: change.after ? (redact(change.after) as Record<string, unknown>) : null,
        source_ip: actor.sourceIp,
      },
      { transaction: tx },
    );
  }
}

/**
 * Only the fields that changed, so entries stay small and readable.
 * `updated_at` is left out: the entry's own time already says when.
 */
export function diff(before: object, after: object): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  const bv = before as Record<string, unknown>;
  const av = after as Record<string, unknown>;
  for (const k of new Set([...Object.keys(bv), ...Object.keys(av)])) {
    if (k === 'updated_at') continue;
    if (JSON.stringify(bv[k]) !== JSON.stringify(av[k])) {
      b[k] = bv[k];
      a[k] = av[k];
    }
  }
  return { before: b, after: a };
}
