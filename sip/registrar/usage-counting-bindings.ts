import type { UsageRecorder } from '../../src/usage/usage-recorder.js';
import type { BindingPort } from './binding-port.js';
import type { ApplyRegisterInput, ApplyRegisterResult } from './register-decision.js';

/**
 * Usage of the registrar, counted from what each REGISTER committed: the
 * new bindings it created (`registrations`) and how many the user holds
 * after it (a sample of `active_devices_peak`). Around the BindingPort,
 * after the transaction, so every storage path (SQLite batches, the MySQL
 * group commit and write-behind, the general path with webhook hooks)
 * counts the same, a rolled-back REGISTER counts nothing, and the REGISTER
 * never waits on usage: record() only adds into this process's buffer.
 */
export class UsageCountingBindings implements BindingPort {
  constructor(
    private readonly inner: BindingPort,
    private readonly usage: UsageRecorder,
  ) {}

  async apply(input: ApplyRegisterInput): Promise<ApplyRegisterResult> {
    const result = await this.inner.apply(input);
    if (result.kind === 'ok') {
      const at = input.now;
      if (result.added > 0) this.usage.record({ accountId: input.accountId, userId: input.userId, type: 'registrations', amount: result.added, at });
      if (result.bindings.length) {
        this.usage.record({ accountId: input.accountId, userId: input.userId, type: 'active_devices_peak', amount: result.bindings.length, at });
      }
    }
    return result;
  }
}
