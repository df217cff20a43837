import type { Transaction } from 'sequelize';
import type { ApplyRegisterInput, BindingChange, RegisterRejection } from './register-decision.js';

/**
 * Called inside the binding transaction (after the writes), so whatever
 * they write (webhook outbox rows) commits or rolls back with the change.
 */
export interface BindingStoreHooks {
  onChange?(tx: Transaction, change: BindingChange): Promise<void>;
  /** A new device refused by max_bindings; nothing was written. */
  onRejected?(tx: Transaction, input: ApplyRegisterInput, rejection: RegisterRejection): Promise<void>;
}
