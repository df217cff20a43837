import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { BindingStore } from './binding-store.js';
import type { BindingRemovals } from './binding-port.js';
import type { StoredBinding } from './register-decision.js';
import { BINDING_COLUMNS, dbDateText, toStored, type BindingRow } from './binding-rows.js';
import type { BindingRemoval } from '../../src/registrations/binding-removal.js';

export interface BindingLifecycleOptions {
  sequelize: Sequelize;
  dialect: 'sqlite' | 'mysql';
  store: BindingStore;
  /** Deletes the rows and queues their events (the same code the REST API's deletes run). */
  removal: BindingRemoval;
  /** Rows per transaction when sweeping. */
  batchSize?: number;
}

/**
 * Removals that do not come from a REGISTER: expiry (the sweeper), a
 * closed connection, an unreachable device. Each deletes the rows it read
 * and writes their events in the same transaction (BindingRemoval, shared
 * with the REST API). The rows are read with a locking read on MySQL,
 * so when two nodes sweep at once a row is deleted (and its event written)
 * by one of them only.
 */
export class BindingLifecycle implements BindingRemovals {
  private readonly batch: number;

  constructor(private readonly o: BindingLifecycleOptions) {
    this.batch = o.batchSize ?? 500;
  }

  /** Deletes bindings past expiry, a batch per transaction, at most `maxBatches` per call. Returns how many. */
  async sweepExpired(now: Date, maxBatches = 20): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await this.o.store.write(async (tx) => {
        const rows = await this.select(tx, `expires_at <= :now ORDER BY expires_at LIMIT ${this.batch}`, { now: this.dbDate(now) });
        await this.o.removal.remove(tx, rows, 'expired');
        return rows.length;
      });
      total += n;
      if (n < this.batch) break;
    }
    return total;
  }

  /** Bindings made over a stream connection that is gone (and without Path, so no edge proxy holds the flow). */
  async removeConnection(connectionId: string, nodeId: string): Promise<number> {
    return this.o.store.write(async (tx) => {
      const rows = await this.select(tx, 'connection_id = :connectionId AND node_id = :nodeId AND path IS NULL', { connectionId, nodeId });
      await this.o.removal.remove(tx, rows, 'connection_closed');
      return rows.length;
    });
  }

  /**
   * Bindings that failed a qualify while already marked unreachable (two
   * probes in a row), unless the device refreshed since `probedSince`.
   */
  async removeUnreachable(ids: number[], probedSince: Date): Promise<number> {
    if (!ids.length) return 0;
    return this.o.store.write(async (tx) => {
      const rows = await this.select(tx, 'id IN (:ids) AND unreachable = :yes AND updated_at <= :since', { ids, yes: true, since: this.dbDate(probedSince) });
      await this.o.removal.remove(tx, rows, 'unreachable');
      return rows.length;
    });
  }

  private async select(tx: Transaction, where: string, replacements: Record<string, unknown>): Promise<StoredBinding[]> {
    const lock = this.o.dialect === 'mysql' ? ' FOR UPDATE' : '';
    const rows = await this.o.sequelize.query<BindingRow>(`SELECT ${BINDING_COLUMNS.join(', ')} FROM registrations WHERE ${where}${lock}`, {
      replacements,
      type: QueryTypes.SELECT,
      transaction: tx,
    });
    return rows.map(toStored);
  }

  private dbDate(d: Date): string {
    return dbDateText(d, this.o.dialect);
  }
}
