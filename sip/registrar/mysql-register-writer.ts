import type { ResultSetHeader } from 'mysql2';
import { getConnection, query, type RegistrarConnection, type RegistrarPool } from './mysql-pool.js';
import { parseEvents } from '../../src/webhooks/webhook-outbox.js';
import {
  BINDING_COLUMNS, LOCKED_USER_COLUMNS, decideRegister, isRetryable,
  type ApplyRegisterInput, type ApplyRegisterResult, type BindingRow, type LockedUser,
} from './binding-store.js';

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
 * When the account has webhooks for registration.* events, apply() answers
 * null before writing anything and the caller runs the general path, whose
 * hooks write the outbox rows in the same transaction: the event logic
 * lives in one place.
 */
export interface MysqlRegisterWriterOptions {
  /** Most REGISTERs (of different users) one transaction carries. */
  maxSize: number;
  /** Batches in flight at once (each holds one pooled connection). */
  concurrency: number;
}

interface Pending {
  input: ApplyRegisterInput;
  resolve(r: ApplyRegisterResult | null): void;
  reject(err: unknown): void;
}

export class MysqlRegisterWriter {
  private queue: Pending[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly pool: RegistrarPool,
    /** Look for registration.* webhooks (false when no outbox is wired). */
    private readonly eventsWired: boolean,
    private readonly o: MysqlRegisterWriterOptions = { maxSize: 32, concurrency: 2 },
  ) {}

  /**
   * Queues the REGISTER; it is written with whichever others (of other
   * users) are waiting when a connection frees up: group commit. Under
   * light load a batch is one REGISTER; under heavy load one round-trip
   * pair and one redo-log flush serve many.
   */
  apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult | null> {
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

  private async run(batch: Pending[]): Promise<void> {
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

  private async withRetry(inputs: ApplyRegisterInput[]): Promise<Array<ApplyRegisterResult | null>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(inputs);
      } catch (err) {
        // A deadlock victim (InnoDB gap locks on the registrations index): the whole step is safe to run again.
        if (attempt < 4 && isRetryable(err)) continue;
        throw err;
      }
    }
  }

  /** One transaction for the batch; null for a REGISTER that must take the general path (registration webhooks). */
  private async once(inputs: ApplyRegisterInput[]): Promise<Array<ApplyRegisterResult | null>> {
    const conn = await getConnection(this.pool);
    let inTransaction = false;
    let usable = true;
    try {
      const userIds = inputs.map((i) => i.userId);
      const accountIds = [...new Set(inputs.map((i) => i.accountId))];
      // The user rows are locked in primary-key order, so two batches (or nodes) never wait on each other in a cycle.
      const first = ['START TRANSACTION', `SELECT id, ${LOCKED_USER_COLUMNS} FROM users WHERE id IN (?) ORDER BY id FOR UPDATE`, SELECT_BINDINGS];
      const params: unknown[] = [userIds, userIds];
      if (this.eventsWired) {
        first.push('SELECT account_id, events FROM webhooks WHERE account_id IN (?) AND active = 1');
        params.push(accountIds);
      }
      inTransaction = true;
      const read = await query<unknown[]>(conn, first.join(';\n'), params);
      const users = new Map((read[1] as Array<LockedUser & { id: number }>).map((u) => [Number(u.id), u]));
      const rowsByUser = new Map<number, BindingRow[]>();
      for (const r of read[2] as BindingRow[]) {
        const list = rowsByUser.get(Number(r.user_id));
        if (list) list.push(r);
        else rowsByUser.set(Number(r.user_id), [r]);
      }
      const withEvents = new Set<number>();
      if (this.eventsWired) for (const h of read[3] as Array<{ account_id: unknown; events: unknown }>) if (wantsRegistrationEvents(h.events)) withEvents.add(Number(h.account_id));

      const results: Array<ApplyRegisterResult | null> = [];
      const statements: string[] = [];
      const values: unknown[] = [];
      const created: Array<{ b: { id: number }; statement: number }> = [];
      for (const input of inputs) {
        if (withEvents.has(input.accountId)) {
          results.push(null);
          continue;
        }
        const d = decideRegister(users.get(input.userId), rowsByUser.get(input.userId) ?? [], input);
        results.push(d.result);
        if (d.kind === 'done') continue;
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
      statements.push('COMMIT');
      const written = await query<ResultSetHeader | ResultSetHeader[]>(conn, statements.join(';\n'), values);
      inTransaction = false;
      // The 200 names the new rows by id (a lone COMMIT answers with one header, not a list).
      const headers = Array.isArray(written) ? written : [written];
      for (const c of created) c.b.id = Number(headers[c.statement]!.insertId);
      return results;
    } catch (err) {
      if (inTransaction) usable = await rollback(conn);
      throw err;
    } finally {
      if (usable) conn.release();
      else conn.destroy();
    }
  }
}

const SELECT_BINDINGS = `SELECT ${BINDING_COLUMNS.join(', ')} FROM registrations WHERE user_id IN (?) ORDER BY id`;

function wantsRegistrationEvents(events: unknown): boolean {
  return parseEvents(events).some((e) => e.startsWith('registration.'));
}

/** False when the connection could not roll back: it must not go back to the pool with a transaction open. */
async function rollback(conn: RegistrarConnection): Promise<boolean> {
  try {
    await query(conn, 'ROLLBACK');
    return true;
  } catch {
    return false;
  }
}
