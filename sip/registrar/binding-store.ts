import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { SqliteWriter } from '../../src/db/sqlite-writer.js';
import type { BindingPort } from './binding-port.js';
import type { MysqlRegisterWriter } from './mysql-register-writer.js';
export type { BindingStoreHooks } from './binding-hooks.js';
import { SqliteRegisterWriter } from './sqlite-register-writer.js';
import { decideRegister, type ApplyRegisterInput, type ApplyRegisterResult, type LockedUser } from './register-decision.js';
import type { BindingStoreHooks } from './binding-hooks.js';
import { LOCKED_USER_COLUMNS, SELECT_USER_BINDINGS, dbDateText, toStored, withRetry, type BindingRow } from './binding-rows.js';
import type { ConflictRetryOptions } from './conflict-retry.js';
import { BUMP_BINDING_SEQ } from './galera-certification.js';

export interface BindingStoreOptions {
  sequelize: Sequelize;
  dialect: 'sqlite' | 'mysql';
  hooks?: BindingStoreHooks;
  /** MySQL: the two-round-trip REGISTER transaction (group commit, write-behind); the general path stays for accounts with registration webhooks. */
  mysql?: MysqlRegisterWriter;
  /** SQLite: the process's one writer; REGISTERs waiting for it are decided and written as one batch. */
  sqliteWriter?: SqliteWriter;
  /** SQLite: look up which accounts want registration.* events (false when no outbox is wired). */
  eventsWired?: boolean;
  /** Retry observers (metrics) for transactions that lost a conflict. */
  retries?: ConflictRetryOptions;
}

/**
 * The storage adapter behind BindingPort. Bindings are written under a
 * per-user lock so that the max-bindings count and the insert are one
 * atomic step across every process sharing the database: MySQL/MariaDB
 * `SELECT … FOR UPDATE` on the user row; SQLite `BEGIN IMMEDIATE` (one
 * writer at a time for the whole file, also across processes) taken by the
 * process's one writer.
 */
export class BindingStore implements BindingPort {
  private readonly sequelize: Sequelize;
  private readonly dialect: 'sqlite' | 'mysql';
  private readonly hooks: BindingStoreHooks;
  private readonly batch: SqliteRegisterWriter | undefined;

  constructor(private readonly o: BindingStoreOptions) {
    this.sequelize = o.sequelize;
    this.dialect = o.dialect;
    this.hooks = o.hooks ?? {};
    this.batch = o.sqliteWriter ? new SqliteRegisterWriter(o.sqliteWriter, this.hooks, o.eventsWired ?? false) : undefined;
  }

  /**
   * Runs another writer of registrations (sweeper, connection close,
   * qualify) the way REGISTERs run, retried on a deadlock. On SQLite the
   * transaction is a job of the process's one writer (src/db/sqlite-writer.ts).
   */
  write<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return withRetry(() => this.sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, fn), this.o.retries);
  }

  async apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    if (this.batch) return this.batch.apply(input);
    if (this.o.mysql) {
      const fast = await this.o.mysql.apply(input);
      if (fast) return fast;
    }
    return withRetry(() => this.sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, (tx) => this.applyIn(tx, input)), this.o.retries);
  }

  /** The general path: one REGISTER in one transaction through Sequelize, events by the hooks. */
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
    const d = decideRegister(user, rows.map(toStored), input);
    if (d.kind === 'done') {
      if (d.rejection && this.hooks.onRejected) await this.hooks.onRejected(tx, input, d.rejection);
      return d.result;
    }
    // Dates go in as text in the format the model layer writes (ms kept; SQLite compares them as strings).
    const q = (sql: string, replacements: Record<string, unknown>) => {
      const v: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(replacements)) v[k] = x instanceof Date ? dbDateText(x, this.dialect) : x;
      return this.sequelize.query(sql, { replacements: v, transaction: tx, type: QueryTypes.RAW });
    };
    // Multi-primary (Galera): the write that makes two nodes' REGISTERs of this user conflict at commit (galera-certification.ts).
    if (this.dialect === 'mysql') await this.sequelize.query(BUMP_BINDING_SEQ, { replacements: [input.userId], transaction: tx, type: QueryTypes.RAW });
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

  /** After a restart this node's old stream connections are gone: drop their bindings (without Path: no edge proxy holds the flow). */
  async removeStaleConnections(nodeId: string): Promise<number> {
    return this.write(async (tx) => {
      const [, meta] = await this.sequelize.query('DELETE FROM registrations WHERE node_id = :nodeId AND connection_id IS NOT NULL AND path IS NULL', {
        replacements: { nodeId },
        transaction: tx,
      });
      return affectedRows(meta);
    });
  }
}

/** Rows a DELETE removed, as each dialect's driver reports it. */
function affectedRows(meta: unknown): number {
  const m = meta as { affectedRows?: number; changes?: number } | number | undefined;
  if (typeof m === 'number') return m;
  return Number(m?.affectedRows ?? m?.changes ?? 0);
}
