import { Op, QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { Models } from '../../src/db/models/index.js';
import type { BindingPolicy } from '../../src/db/models/account.js';
import type { MysqlRegisterWriter } from './mysql-register-writer.js';
import { planBindings, type LiveBinding, type RequestedContact } from './binding-plan.js';

/** Where a REGISTER came from, stored with each binding it creates or refreshes. */
export interface BindingOrigin {
  transport: string;
  sourceAddress: string;
  sourcePort: number;
  connectionId: string | null;
  nodeId: string;
  userAgent: string | null;
  /** Path values (RFC 3327), null when none. */
  path: string[] | null;
}

export interface ApplyRegisterInput {
  userId: number;
  accountId: number;
  /** The version the credentials were checked against; a different locked version means "re-authenticate". */
  expectedVersion: number;
  /** Policy when the user has none of its own. */
  accountPolicy: BindingPolicy;
  aor: string;
  contacts: RequestedContact[] | 'wildcard' | 'query';
  callId: string;
  cseq: number;
  origin: BindingOrigin;
  now: Date;
}

/** What one REGISTER changed, handed to the hooks inside the transaction that wrote it. */
export interface BindingChange {
  input: ApplyRegisterInput;
  /** Inserted rows; `id` is 0 (the insert does not read it back). */
  created: StoredBinding[];
  updated: StoredBinding[];
  /** Removed by the REGISTER itself (expires=0 or Contact: *). */
  removed: StoredBinding[];
  evicted: StoredBinding[];
  /** This user's rows found past expiry and deleted on the way. */
  expired: StoredBinding[];
}

/**
 * Called inside the binding transaction (after the writes), so whatever
 * they write (webhook outbox rows) commits or rolls back with the change.
 */
export interface BindingStoreHooks {
  onChange?(tx: Transaction, change: BindingChange): Promise<void>;
  /** A new device refused by max_bindings; nothing was written. */
  onRejected?(
    tx: Transaction,
    input: ApplyRegisterInput,
    rejection: { outcome: 'too_many_bindings' | 'registration_disabled'; holders: StoredBinding[]; maxBindings: number },
  ): Promise<void>;
}

export type ApplyRegisterResult =
  | { kind: 'ok'; bindings: StoredBinding[]; evicted: StoredBinding[]; added: number; removed: number }
  | { kind: 'stale_credentials' }
  | { kind: 'user_disabled' }
  | {
      kind: 'rejected';
      outcome: 'out_of_order' | 'too_many_bindings' | 'registration_disabled';
      holders: StoredBinding[];
      maxBindings: number;
      /** New devices the REGISTER asked for. */
      requested: number;
    };

/**
 * Writes bindings under a per-user lock so that the max-bindings count and
 * the insert are one atomic step across every process sharing the
 * database: MySQL/MariaDB `SELECT … FOR UPDATE` on the user row; SQLite
 * `BEGIN IMMEDIATE` (one writer at a time for the whole file, also across
 * processes) behind an in-process queue.
 */
export class BindingStore {
  /** SQLite: writers queue here rather than in sqlite3's 4 worker threads (busy-waiting there starves the lock holder). */
  private sqliteQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sequelize: Sequelize,
    private readonly models: Models,
    private readonly dialect: 'sqlite' | 'mysql',
    private readonly hooks: BindingStoreHooks = {},
    /** MySQL only: the two-round-trip REGISTER transaction; the general path stays for accounts with registration webhooks. */
    private readonly fastPath?: MysqlRegisterWriter,
  ) {}

  /**
   * Runs another writer of registrations (sweeper, connection close,
   * qualify) the way REGISTERs run: on SQLite behind the same in-process
   * queue, and retried on a deadlock.
   */
  async write<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const once = async (): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, fn);
        } catch (err) {
          if (attempt < 4 && isRetryable(err)) continue;
          throw err;
        }
      }
    };
    if (this.dialect !== 'sqlite') return once();
    const run = this.sqliteQueue.then(once);
    this.sqliteQueue = run.catch(() => undefined);
    return run;
  }

  async apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    if (this.dialect !== 'sqlite') return (await this.fastPath?.apply(input)) ?? this.applyWithRetry(input);
    const run = this.sqliteQueue.then(() => this.applyWithRetry(input));
    this.sqliteQueue = run.catch(() => undefined);
    return run;
  }

  private async applyWithRetry(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, (tx) => this.applyIn(tx, input));
      } catch (err) {
        // InnoDB may pick this transaction as a deadlock victim (gap locks on the
        // registrations index); the whole step is safe to run again.
        if (attempt < 4 && isRetryable(err)) continue;
        throw err;
      }
    }
  }

  private async applyIn(tx: Transaction, input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    // Lock only the user row (a primary-key record lock). A locking read of the
    // registrations would also take InnoDB gap locks on the user_id index, and
    // other users' inserts into those gaps would queue behind this transaction.
    const [user] = await this.sequelize.query<LockedUser>(
      `SELECT ${LOCKED_USER_COLUMNS} FROM users WHERE id = :userId${this.dialect === 'mysql' ? ' FOR UPDATE' : ''}`,
      { replacements: { userId: input.userId }, type: QueryTypes.SELECT, transaction: tx },
    );
    // A plain read after the lock: its snapshot starts now, so it sees every binding the previous lock holders committed.
    const rows = await this.sequelize.query<BindingRow>(SELECT_USER_BINDINGS, {
      replacements: { userId: input.userId },
      type: QueryTypes.SELECT,
      transaction: tx,
    });
    const d = decideRegister(user, rows, input);
    if (d.kind === 'done') {
      if (d.rejection && this.hooks.onRejected) await this.hooks.onRejected(tx, input, d.rejection);
      return d.result;
    }
    // Dates go in as text in the format the model layer writes (ms kept; SQLite compares them as strings).
    const q = (sql: string, replacements: Record<string, unknown>) => {
      const v: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(replacements)) v[k] = x instanceof Date ? this.dbDate(x) : x;
      return this.sequelize.query(sql, { replacements: v, transaction: tx, type: QueryTypes.RAW });
    };
    if (d.drop.length) await q('DELETE FROM registrations WHERE id IN (:ids)', { ids: d.drop });
    for (const u of d.updates)
      await q(
        `UPDATE registrations SET ${Object.keys(u.values)
          .map((k) => `${k} = :${k}`)
          .join(', ')} WHERE id = :id`,
        { ...u.values, id: u.id },
      );
    for (const values of d.inserts) {
      const keys = Object.keys(values);
      await q(`INSERT INTO registrations (${keys.join(', ')}) VALUES (${keys.map((k) => `:${k}`).join(', ')})`, values);
    }
    if (this.hooks.onChange) await this.hooks.onChange(tx, d.change);
    return d.result;
  }

  private dbDate(d: Date): string {
    return dbDateText(d, this.dialect);
  }

  /** RFC-independent clean-up: bindings made over a stream connection that is gone (and without Path, so no edge proxy holds the flow). */
  async removeByConnection(connectionId: string, nodeId: string): Promise<number> {
    return this.models.Registration.destroy({ where: { connection_id: connectionId, node_id: nodeId, path: null } });
  }

  /** After a restart this node's old stream connections are gone: drop their bindings. */
  async removeStaleConnections(nodeId: string): Promise<number> {
    return this.models.Registration.destroy({ where: { node_id: nodeId, connection_id: { [Op.ne]: null }, path: null } });
  }

  async deleteExpired(now: Date): Promise<number> {
    return this.models.Registration.destroy({ where: { expires_at: { [Op.lte]: now } } });
  }
}

/** A binding row as the registrar reads it (plain data, no model instance on the hot path). */
export interface StoredBinding {
  id: number;
  account_id: number;
  user_id: number;
  aor: string;
  contact_uri: string;
  contact_raw: string;
  q: number | null;
  expires_at: Date;
  call_id: string;
  cseq: number;
  instance_id: string | null;
  reg_id: number | null;
  path: string | null;
  transport: string;
  source_address: string;
  source_port: number;
  connection_id: string | null;
  node_id: string;
  user_agent: string | null;
  unreachable: boolean;
  registered_at: Date;
  updated_at: Date;
}

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

function toLive(b: StoredBinding): LiveBinding {
  return {
    id: b.id,
    contactUri: b.contact_uri,
    callId: b.call_id,
    cseq: b.cseq,
    instanceId: b.instance_id,
    regId: b.reg_id,
    registeredAt: b.registered_at,
    unreachable: b.unreachable,
    userAgent: b.user_agent,
  };
}

/** A date as the model layer writes it (ms kept): SQLite compares these as strings, so the format must match exactly. */
export function dbDateText(d: Date, dialect: 'sqlite' | 'mysql'): string {
  const iso = d.toISOString(); // 2026-01-02T03:04:05.678Z
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
  return dialect === 'sqlite' ? `${text} +00:00` : text;
}

export interface LockedUser {
  version: number;
  status: string;
  max_bindings: number;
  binding_policy: string | null;
}
export const LOCKED_USER_COLUMNS = 'version, status, max_bindings, binding_policy';
export const SELECT_USER_BINDINGS = `SELECT ${BINDING_COLUMNS.join(', ')} FROM registrations WHERE user_id = :userId ORDER BY id`;

type Rejection = Parameters<NonNullable<BindingStoreHooks['onRejected']>>[2];

/** What a REGISTER does to the user's rows, decided under the user lock; the caller writes it in its own transaction. */
export type RegisterDecision =
  | { kind: 'done'; result: ApplyRegisterResult; rejection?: Rejection }
  | {
      kind: 'write';
      drop: number[];
      updates: Array<{ id: number; values: Record<string, unknown> }>;
      /** Column values of each new row, in the order of `change.created` (whose `id` the writer may fill in). */
      inserts: Array<Record<string, unknown>>;
      change: BindingChange;
      result: Extract<ApplyRegisterResult, { kind: 'ok' }>;
    };

/**
 * The whole REGISTER rule set over the locked user row and its binding
 * rows, shared by every storage path so they cannot drift: version and
 * status checks, expiry, RFC 3261 §10.3 step 7 and max_bindings (planBindings).
 */
export function decideRegister(user: LockedUser | undefined, rows: BindingRow[], input: ApplyRegisterInput): RegisterDecision {
  if (!user || Number(user.version) !== input.expectedVersion) return { kind: 'done', result: { kind: 'stale_credentials' } };
  if (user.status !== 'active') return { kind: 'done', result: { kind: 'user_disabled' } };
  const policy: BindingPolicy = (user.binding_policy as BindingPolicy | null) ?? input.accountPolicy;
  const nowMs = input.now.getTime();
  const all = rows.map(toStored);
  const expired = all.filter((b) => b.expires_at.getTime() <= nowMs);
  const live = all.filter((b) => b.expires_at.getTime() > nowMs);
  if (input.contacts === 'query') return { kind: 'done', result: { kind: 'ok', bindings: live, evicted: [], added: 0, removed: 0 } };
  const maxBindings = Number(user.max_bindings);
  const plan = planBindings({ live: live.map(toLive), contacts: input.contacts, callId: input.callId, cseq: input.cseq, maxBindings, policy });
  if (plan.kind === 'rejected') {
    const holders = live.filter((b) => plan.holders.some((h) => h.id === b.id));
    const result: ApplyRegisterResult = { kind: 'rejected', outcome: plan.outcome, holders, maxBindings, requested: plan.requested };
    return plan.outcome === 'out_of_order' ? { kind: 'done', result } : { kind: 'done', result, rejection: { outcome: plan.outcome, holders, maxBindings } };
  }
  const o = input.origin;
  const common = {
    aor: input.aor,
    call_id: input.callId,
    cseq: input.cseq,
    path: o.path && o.path.length ? JSON.stringify(o.path) : null,
    transport: o.transport,
    source_address: o.sourceAddress,
    source_port: o.sourcePort,
    connection_id: o.connectionId,
    node_id: o.nodeId,
    user_agent: o.userAgent,
    updated_at: input.now,
  };
  const byId = new Map(live.map((b) => [b.id, b]));
  const updates = plan.updates.map((u) => ({
    id: u.id,
    values: {
      ...common,
      contact_uri: u.contact.uri,
      contact_raw: u.contact.raw,
      q: u.contact.q,
      expires_at: new Date(nowMs + u.contact.expires * 1000),
      instance_id: u.contact.instanceId,
      reg_id: u.contact.regId,
      unreachable: false,
    },
  }));
  const updated: StoredBinding[] = updates.map((u) => ({ ...byId.get(u.id)!, ...u.values }));
  const created: StoredBinding[] = plan.inserts.map((c) => ({
    id: 0,
    ...common,
    account_id: input.accountId,
    user_id: input.userId,
    contact_uri: c.uri,
    contact_raw: c.raw,
    q: c.q,
    expires_at: new Date(nowMs + c.expires * 1000),
    instance_id: c.instanceId,
    reg_id: c.regId,
    unreachable: false,
    registered_at: input.now,
  }));
  const gone = new Set([...plan.removeIds, ...plan.evictIds]);
  const changed = new Map(updated.map((b) => [b.id, b]));
  const bindings = [...live.filter((b) => !gone.has(b.id)).map((b) => changed.get(b.id) ?? b), ...created];
  const evicted = live.filter((b) => plan.evictIds.includes(b.id));
  const removed = live.filter((b) => plan.removeIds.includes(b.id));
  return {
    kind: 'write',
    drop: [...expired.map((b) => b.id), ...plan.removeIds, ...plan.evictIds],
    updates,
    inserts: created.map(({ id: _id, ...values }) => values),
    change: { input, created, updated, removed, evicted, expired },
    result: { kind: 'ok', bindings, evicted, added: created.length, removed: plan.removeIds.length },
  };
}

export function isRetryable(err: unknown): boolean {
  const e = err as { parent?: { code?: string; errno?: number }; original?: { code?: string } };
  const code = e.parent?.code ?? e.original?.code ?? (err as { code?: string }).code;
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'SQLITE_BUSY';
}
