import type { StoredBinding } from './register-decision.js';

/* Binding rows as the databases hand them back, and the SQL text both adapters share. */

export const BINDING_COLUMNS = [
  'id',
  'account_id',
  'user_id',
  'aor',
  'contact_uri',
  'contact_raw',
  'q',
  'expires_at',
  'call_id',
  'cseq',
  'instance_id',
  'reg_id',
  'path',
  'transport',
  'source_address',
  'source_port',
  'connection_id',
  'node_id',
  'user_agent',
  'unreachable',
  'registered_at',
  'updated_at',
] as const;

export type BindingRow = { [K in (typeof BINDING_COLUMNS)[number]]: unknown };

/** SQLite hands DATETIME back as text ("2026-01-02 03:04:05.678 +00:00"); MySQL as Date. */
export function asDate(v: unknown): Date {
  if (v instanceof Date) return v;
  const t = String(v);
  return new Date(/^\d{4}-\d\d-\d\d \d/.test(t) ? t.replace(' ', 'T').replace(/ ?([+-]\d\d:\d\d)$/, '$1') : t);
}

export function toStored(r: BindingRow): StoredBinding {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- driver values: strings, numbers, Dates
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: Number(r.id),
    account_id: Number(r.account_id),
    user_id: Number(r.user_id),
    aor: String(r.aor),
    contact_uri: String(r.contact_uri),
    contact_raw: String(r.contact_raw),
    q: n(r.q),
    expires_at: asDate(r.expires_at),
    call_id: String(r.call_id),
    cseq: Number(r.cseq),
    instance_id: str(r.instance_id),
    reg_id: n(r.reg_id),
    path: str(r.path),
    transport: String(r.transport),
    source_address: String(r.source_address),
    source_port: Number(r.source_port),
    connection_id: str(r.connection_id),
    node_id: String(r.node_id),
    user_agent: str(r.user_agent),
    unreachable: Boolean(Number(r.unreachable)),
    registered_at: asDate(r.registered_at),
    updated_at: asDate(r.updated_at),
  };
}

/** A date as the model layer writes it (ms kept): SQLite compares these as strings, so the format must match exactly. */
export function dbDateText(d: Date, dialect: 'sqlite' | 'mysql'): string {
  const iso = d.toISOString(); // 2026-01-02T03:04:05.678Z
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
  return dialect === 'sqlite' ? `${text} +00:00` : text;
}

export const LOCKED_USER_COLUMNS = 'version, status, max_bindings, binding_policy';

// The retry policy (bounded, jittered, observable) lives in conflict-retry.ts.
export { isRetryable } from './conflict-retry.js';
import { retryConflicts, type ConflictRetryOptions } from './conflict-retry.js';

/** Runs the whole step (a transaction, reads included) again when it lost a conflict; see conflict-retry.ts. */
export function withRetry<T>(step: () => Promise<T>, o: ConflictRetryOptions = {}): Promise<T> {
  return retryConflicts(step, o);
}
