import type { ResultSetHeader } from 'mysql2';
import { getConnection, query, type RegistrarConnection, type RegistrarPool } from './mysql-pool.js';
import type { RefreshWriteBehind } from './refresh-write-behind.js';
import { decideRegister, type ApplyRegisterInput, type ApplyRegisterResult, type LockedUser, type RegisterDecision } from './register-decision.js';
import { deliveryRows, type DeliveryRow } from '../../src/webhooks/webhook-outbox.js';
import { outboxEventData } from './registration-events.js';
import { BINDING_COLUMNS, LOCKED_USER_COLUMNS, toStored, withRetry, type BindingRow } from './binding-rows.js';
import type { ConflictRetryOptions } from './conflict-retry.js';
import { BUMP_BINDING_SEQ, isGalera } from './galera-certification.js';

/**
 * The REGISTER transaction on MySQL/MariaDB in two round trips instead of
 * six: (1) BEGIN, lock the user rows, read their bindings (and whether the
 * accounts' webhooks want registration events); (2) every write and the
 * COMMIT as one multi-statement. Concurrent REGISTERs of different users
 * share one such transaction (see apply()). Same rules (decideRegister) and the same
 * per-user `SELECT … FOR UPDATE` as the general path, so max_bindings holds
 * across processes exactly as before; what goes away is Sequelize's
 * per-query overhead and four network round trips per REGISTER.
 *
 * With a RefreshWriteBehind, a REGISTER that may be a plain refresh (one
 * contact, not a removal) is first decided on an unlocked read; when it
 * is a refresh it is answered from that read and its write deferred (see
 * refresh-write-behind.ts for why max_bindings still holds). Anything
 * else, and a refresh that turns out not to be deferrable, takes the
 * locked transaction.
 *
 * When the account has webhooks for registration.* events, their outbox
 * rows (register-decision.ts decides them, registration-events.ts shapes
 * them) are inserted in the same transaction, after the binding writes
 * have told us the new rows' ids: one more round trip, only for those
 * accounts.
 */
export interface MysqlRegisterWriterOptions {
  /** Most REGISTERs (of different users) one transaction carries. */
  maxSize: number;
  /** Batches in flight at once (each holds one pooled connection). */
  concurrency: number;
}

interface Pending {
  input: ApplyRegisterInput;
  resolve(r: ApplyRegisterResult): void;
  reject(err: unknown): void;
}

export class MysqlRegisterWriter {
  private queue: Pending[] = [];
  private running = 0;
  private scheduled = false;
  /** Galera: binding_seq is written, and the COMMIT sent apart from the writes (galera-certification.ts). */
  private galera: Promise<boolean> | undefined;

  constructor(
    private readonly pool: RegistrarPool,
    /** Look for registration.* webhooks (false when no outbox is wired). */
    private readonly eventsWired: boolean,
    private readonly o: MysqlRegisterWriterOptions = { maxSize: 32, concurrency: 2 },
    private readonly refreshes?: RefreshWriteBehind,
    /** Retry observers (metrics); the attempts bound too. */
    private readonly retries: ConflictRetryOptions = {},
  ) {}

  /**
   * Queues the REGISTER; it is written with whichever others (of other
   * users) are waiting when a connection frees up: group commit. Under
   * light load a batch is one REGISTER; under heavy load one round-trip
   * pair and one redo-log flush serve many.
   */
  apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      // Start on the next turn, so the REGISTERs read from the socket in this one share a batch.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.running < this.o.concurrency && this.queue.length) {
      const batch = this.take();
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** Oldest first, one REGISTER per user: a second one for the same user must see the first one's rows. */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const users = new Set<number>();
    const rest: Pending[] = [];
    for (const p of this.queue) {
      if (batch.length < this.o.maxSize && !users.has(p.input.userId)) {
        batch.push(p);
        users.add(p.input.userId);
      } else rest.push(p);
    }
    this.queue = rest;
    return batch;
  }

  private async run(all: Pending[]): Promise<void> {
    const batch = this.refreshes ? await this.answerRefreshes(all, this.refreshes) : all;
    if (!batch.length) return;
    try {
      const results = await this.withRetry(batch.map((p) => p.input));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // One REGISTER's failure must not fail the others: write them one by one.
      for (const p of batch) {
        try {
          p.resolve((await this.withRetry([p.input]))[0]!);
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }

  private withRetry(inputs: ApplyRegisterInput[]): Promise<ApplyRegisterResult[]> {
    return withRetry(() => this.once(inputs), this.retries);
  }

  /**
   * Decides the batch's possible refreshes on one unlocked read (no
   * transaction, no lock, no redo-log flush) and answers those that are
   * plain refreshes, or retransmissions of a REGISTER already written
   * (they change nothing); returns the REGISTERs still to write under lock.
   */
  private async answerRefreshes(batch: Pending[], refreshes: RefreshWriteBehind): Promise<Pending[]> {
    const candidates = batch.filter((p) => mayBeRefresh(p.input));
    if (!candidates.length) return batch;
    let read: Snapshot;
    try {
      read = await this.readUnlocked(candidates.map((p) => p.input));
    } catch {
      return batch; // the locked path reads again and reports the error
    }
    const answered = new Set<Pending>();
    for (const p of candidates) {
      const { input } = p;
      if (read.withEvents.has(input.accountId)) continue;
      const stored = read.rowsByUser.get(input.userId) ?? [];
      const d = decideRegister(read.users.get(input.userId), refreshes.overlay(stored).map(toStored), input);
      if (!(d.kind === 'done' && d.replay) && !refreshes.tryDefer(d, stored, input)) continue;
      answered.add(p);
      p.resolve(d.result);
    }
    return answered.size ? batch.filter((p) => !answered.has(p)) : batch;
  }

  /** The users' rows, their bindings, and whether their accounts' webhooks want registration events: one statement (a join, one snapshot), no lock. */
  private async readUnlocked(inputs: ApplyRegisterInput[]): Promise<Snapshot> {
    const rows = await query<Array<BindingRow & JoinedUser>>(this.pool, this.eventsWired ? SELECT_JOINED_WITH_EVENTS : SELECT_JOINED, [
      inputs.map((i) => i.userId),
    ]);
    const users = new Map<number, LockedUser>();
    const withEvents = new Set<number>();
    for (const r of rows) {
      const id = Number(r.u_id);
      if (!users.has(id)) users.set(id, { version: r.u_version, status: r.u_status, max_bindings: r.u_max_bindings, binding_policy: r.u_binding_policy });
      if (Number(r.u_events)) withEvents.add(Number(r.u_account_id));
    }
    const rowsByUser = groupByUser(rows.filter((r) => r.id !== null));
    for (const list of rowsByUser.values()) if (list.length > 1) list.sort((a, b) => Number(a.id) - Number(b.id));
    return { users, rowsByUser, withEvents };
  }

  /**
   * The same, in a transaction it starts on `conn` and leaves open: the user
   * rows locked first (in primary-key order, so two batches or nodes never
   * wait on each other in a cycle), the bindings read plainly after (a
   * locking read of the bindings would take gap locks other users' inserts
   * queue behind).
   */
  private async readLocked(conn: RegistrarConnection, inputs: ApplyRegisterInput[]): Promise<Required<Snapshot>> {
    const userIds = inputs.map((i) => i.userId);
    const statements = ['START TRANSACTION', `SELECT id, ${LOCKED_USER_COLUMNS} FROM users WHERE id IN (?) ORDER BY id FOR UPDATE`, SELECT_BINDINGS];
    const params: unknown[] = [userIds, userIds];
    if (this.eventsWired) {
      statements.push(`SELECT id, account_id, events FROM webhooks w WHERE account_id IN (?) AND ${WANTS_REGISTRATION_EVENTS}`);
      params.push([...new Set(inputs.map((i) => i.accountId))]);
    }
    const [, users, bindings, found] = await query<unknown[][]>(conn, statements.join(';\n'), params);
    const hooks = new Map<number, Array<{ id: number; events: unknown }>>();
    for (const h of (found ?? []) as Array<{ id: unknown; account_id: unknown; events: unknown }>) {
      const list = hooks.get(Number(h.account_id)) ?? [];
      list.push({ id: Number(h.id), events: h.events });
      hooks.set(Number(h.account_id), list);
    }
    return {
      users: new Map((users as Array<LockedUser & { id: number }>).map((u) => [Number(u.id), u])),
      rowsByUser: groupByUser(bindings as BindingRow[]),
      withEvents: new Set(hooks.keys()),
      hooks,
    };
  }

  /** One transaction for the batch. */
  private async once(inputs: ApplyRegisterInput[]): Promise<ApplyRegisterResult[]> {
    // Asked once per pool, before a connection is held: the first batch waits one query for it.
    const galera = await (this.galera ??= isGalera(this.pool));
    const conn = await getConnection(this.pool);
    // readLocked starts the transaction: from its first statement on, a failure must roll back.
    let inTransaction = true;
    let usable = true;
    try {
      const { users, rowsByUser, hooks } = await this.readLocked(conn, inputs);
      const decisions: RegisterDecision[] = [];
      const statements: string[] = [];
      const values: unknown[] = [];
      const created: Array<{ b: { id: number }; statement: number }> = [];
      for (const input of inputs) {
        const rows = rowsByUser.get(input.userId) ?? [];
        const d = decideRegister(users.get(input.userId), (this.refreshes ? this.refreshes.overlay(rows) : rows).map(toStored), input);
        decisions.push(d);
        if (d.kind === 'done') continue;
        // Multi-primary (Galera): the write that makes two nodes' REGISTERs of this user conflict at commit
        // (galera-certification.ts). On one server the user row's lock already orders them: no write needed.
        if (galera) {
          statements.push(BUMP_BINDING_SEQ);
          values.push(input.userId);
        }
        if (d.drop.length) {
          statements.push('DELETE FROM registrations WHERE id IN (?)');
          values.push(d.drop);
        }
        for (const u of d.updates) {
          statements.push('UPDATE registrations SET ? WHERE id = ?');
          values.push(u.values, u.id);
        }
        d.inserts.forEach((row, i) => {
          created.push({ b: d.change.created[i]!, statement: statements.length });
          statements.push('INSERT INTO registrations SET ?');
          values.push(row);
        });
      }
      const deliveries = inputs.some((i) => hooks.has(i.accountId));
      const commitApart = deliveries || (statements.length > 0 && galera);
      if (!commitApart) statements.push('COMMIT');
      if (statements.length) {
        const written = await query<ResultSetHeader | ResultSetHeader[]>(conn, statements.join(';\n'), values);
        // The 200 (and the events) name the new rows by id (a lone statement answers with one header, not a list).
        const headers = Array.isArray(written) ? written : [written];
        for (const c of created) c.b.id = Number(headers[c.statement]!.insertId);
      }
      if (commitApart) {
        const rows = deliveries ? outboxDeliveries(inputs, decisions, hooks, new Date()) : [];
        await query(conn, rows.length ? `${INSERT_DELIVERIES};\nCOMMIT` : 'COMMIT', rows.length ? [rows.map((r) => DELIVERY_COLUMNS.map((k) => r[k]))] : []);
      }
      inTransaction = false;
      return decisions.map((d) => d.result);
    } catch (err) {
      if (inTransaction) usable = await rollback(conn);
      throw err;
    } finally {
      if (usable) conn.release();
      else conn.destroy();
    }
  }
}

/** The webhook deliveries of the batch's REGISTERs, for the accounts whose webhooks want registration events. */
function outboxDeliveries(
  inputs: ApplyRegisterInput[],
  decisions: RegisterDecision[],
  hooks: Map<number, Array<{ id: number; events: unknown }>>,
  at: Date,
): DeliveryRow[] {
  const out: DeliveryRow[] = [];
  inputs.forEach((input, i) => {
    const targets = hooks.get(input.accountId);
    const d = decisions[i]!;
    if (!targets) return;
    const rows = d.kind === 'write' ? d.change.outbox : (d.outbox ?? []);
    for (const r of rows) out.push(...deliveryRows(input.accountId, r.type, outboxEventData(r, input), targets, at));
  });
  return out;
}

const DELIVERY_COLUMNS = [
  'account_id',
  'webhook_id',
  'event_id',
  'event_type',
  'payload',
  'status',
  'attempts',
  'next_attempt_at',
  'created_at',
  'updated_at',
] as const satisfies ReadonlyArray<keyof DeliveryRow>;
const INSERT_DELIVERIES = `INSERT INTO webhook_deliveries (${DELIVERY_COLUMNS.join(', ')}) VALUES ?`;

interface Snapshot {
  users: Map<number, LockedUser>;
  rowsByUser: Map<number, BindingRow[]>;
  /** Accounts with webhooks that want registration events. */
  withEvents: Set<number>;
  /** Those webhooks (locked read only). */
  hooks?: Map<number, Array<{ id: number; events: unknown }>>;
}

function groupByUser(rows: BindingRow[]): Map<number, BindingRow[]> {
  const byUser = new Map<number, BindingRow[]>();
  for (const r of rows) {
    const list = byUser.get(Number(r.user_id));
    if (list) list.push(r);
    else byUser.set(Number(r.user_id), [r]);
  }
  return byUser;
}

/** One contact that is not a removal: the shape of a refresh (whether it is one takes the stored rows). */
function mayBeRefresh(input: ApplyRegisterInput): boolean {
  return Array.isArray(input.contacts) && input.contacts.length === 1 && input.contacts[0]!.expires > 0;
}

const SELECT_BINDINGS = `SELECT ${BINDING_COLUMNS.join(', ')} FROM registrations WHERE user_id IN (?) ORDER BY id`;

/** An active webhook `w` subscribed to a registration.* event (events is a JSON array of names). */
const WANTS_REGISTRATION_EVENTS = `w.active = 1 AND w.events LIKE '%"registration.%'`;

interface JoinedUser {
  u_id: unknown;
  u_account_id: unknown;
  u_version: number;
  u_status: string;
  u_max_bindings: number;
  u_binding_policy: string | null;
  u_events?: unknown;
}

const JOINED = `SELECT u.id AS u_id, u.account_id AS u_account_id, u.version AS u_version, u.status AS u_status, u.max_bindings AS u_max_bindings,
  u.binding_policy AS u_binding_policy, ${BINDING_COLUMNS.map((c) => `r.${c}`).join(', ')}`;
// No ORDER BY: sorting the join took MariaDB a temporary table per REGISTER batch; readUnlocked() puts each user's rows in id order.
const FROM_JOINED = 'FROM users u LEFT JOIN registrations r ON r.user_id = u.id WHERE u.id IN (?)';
const SELECT_JOINED = `${JOINED} ${FROM_JOINED}`;
const SELECT_JOINED_WITH_EVENTS = `${JOINED},
  EXISTS (SELECT 1 FROM webhooks w WHERE w.account_id = u.account_id AND ${WANTS_REGISTRATION_EVENTS}) AS u_events ${FROM_JOINED}`;

/** False when the connection could not roll back: it must not go back to the pool with a transaction open. */
async function rollback(conn: RegistrarConnection): Promise<boolean> {
  try {
    await query(conn, 'ROLLBACK');
    return true;
  } catch {
    return false;
  }
}
