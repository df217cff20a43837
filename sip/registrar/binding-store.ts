import { Transaction, type Sequelize } from 'sequelize';
import type { SqliteWriter } from '../../src/db/sqlite-writer.js';
import type { BindingPort } from './binding-port.js';
import type { MysqlRegisterWriter } from './mysql-register-writer.js';
export type { BindingStoreHooks } from './binding-hooks.js';
import { SqliteRegisterWriter } from './sqlite-register-writer.js';
import type { ApplyRegisterInput, ApplyRegisterResult } from './register-decision.js';
import type { BindingStoreHooks } from './binding-hooks.js';
import { withRetry } from './binding-rows.js';
import type { ConflictRetryOptions } from './conflict-retry.js';

export interface BindingStoreOptions {
  sequelize: Sequelize;
  hooks?: BindingStoreHooks;
  /** MySQL: the two-round-trip REGISTER transaction (group commit, write-behind, registration webhooks' outbox rows). */
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
  private readonly hooks: BindingStoreHooks;
  /** The dialect's REGISTER writer: both run decideRegister and write its binding and outbox rows in one transaction. */
  private readonly adapter: { apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult> };

  constructor(private readonly o: BindingStoreOptions) {
    this.sequelize = o.sequelize;
    this.hooks = o.hooks ?? {};
    if (o.sqliteWriter) this.adapter = new SqliteRegisterWriter(o.sqliteWriter, this.hooks, o.eventsWired ?? false);
    else if (o.mysql) this.adapter = o.mysql;
    else throw new Error('BindingStore needs the SQLite writer or the MySQL register writer');
  }

  /**
   * Runs another writer of registrations (sweeper, connection close,
   * qualify) the way REGISTERs run, retried on a deadlock. On SQLite the
   * transaction is a job of the process's one writer (src/db/sqlite-writer.ts).
   */
  write<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return withRetry(() => this.sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, fn), this.o.retries);
  }

  apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    return this.adapter.apply(input);
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
