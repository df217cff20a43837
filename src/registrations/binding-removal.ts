import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';
import { bindingEventData, type BindingEventSource, type BindingRemovalReason } from './registration-event-data.js';

/** A binding being removed: what its event says, and whose account it is. */
export interface RemovedBinding extends BindingEventSource {
  account_id: number;
}

/**
 * Every removal of bindings that is not a REGISTER — the REST API's
 * deletes, expiry, a closed connection, an unreachable device — goes
 * through here: the rows are deleted and their registration.removed /
 * registration.expired events queued in the caller's transaction, so the
 * events exist if and only if the delete committed, and every producer
 * sends the same shape. (REGISTERs remove bindings inside their own
 * writer, from the decision's outbox rows.)
 */
export class BindingRemoval {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly outbox?: WebhookOutbox,
  ) {}

  /** Deletes the rows (by id) and queues one event per binding; `expired` says why they went when no one removed them. */
  async remove(tx: Transaction, rows: readonly RemovedBinding[], reason: BindingRemovalReason | 'expired'): Promise<void> {
    if (!rows.length) return;
    await this.sequelize.query('DELETE FROM registrations WHERE id IN (:ids)', {
      replacements: { ids: rows.map((r) => Number(r.id)) },
      type: QueryTypes.RAW,
      transaction: tx,
    });
    if (!this.outbox) return;
    const type = reason === 'expired' ? 'registration.expired' : 'registration.removed';
    const byAccount = new Map<number, Array<{ type: typeof type; data: unknown }>>();
    for (const r of rows) {
      const list = byAccount.get(Number(r.account_id)) ?? [];
      list.push({ type, data: bindingEventData(r, reason === 'expired' ? undefined : reason) });
      byAccount.set(Number(r.account_id), list);
    }
    for (const [accountId, events] of byAccount) await this.outbox.enqueueMany(tx, accountId, events);
  }
}
