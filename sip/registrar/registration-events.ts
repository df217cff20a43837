import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { WebhookOutbox } from '../../src/webhooks/webhook-outbox.js';
import { parseEvents } from '../../src/webhooks/webhook-outbox.js';
import { bindingEventData } from '../../src/registrations/registration-event-data.js';
import type { BindingStoreHooks } from './binding-hooks.js';
import type { ApplyRegisterInput, BindingChange, RegisterRejection, RegistrationOutboxRow, StoredBinding } from './register-decision.js';

/**
 * Turns binding changes into registration.* webhook events, written to the
 * outbox in the transaction that changed the bindings (so an event exists
 * if and only if the change committed). One event per binding.
 *
 * Each call first reads which registration events the account's active
 * webhooks want (one indexed query); accounts without such webhooks cost
 * nothing more, which keeps the REGISTER path cheap.
 */
export class RegistrationEvents {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly outbox: WebhookOutbox,
  ) {}

  /** The hooks to give the BindingStore. */
  hooks(): BindingStoreHooks {
    return {
      onChange: (tx, change) => this.bindingsChanged(tx, change),
      onRejected: (tx, input, r) => this.rejected(tx, input, r),
    };
  }

  /** Writes the change's outbox rows (decided by register-decision.ts) that the account's webhooks want. */
  async bindingsChanged(tx: Transaction, c: BindingChange): Promise<void> {
    const accountId = c.input.accountId;
    const wanted = await this.subscribed(tx, accountId);
    if (!wanted.size) return;
    // Every adapter fills in a created binding's id before the hooks run (SQLite assigns it, MySQL reads insertId).
    for (const r of c.outbox)
      if (r.type !== 'registration.rejected' && wanted.has(r.type)) await this.outbox.enqueue(tx, accountId, r.type, outboxEventData(r, c.input));
  }

  /** max_bindings refused a new device: who tried, and the devices that hold the slots. */
  async rejected(
    tx: Transaction,
    input: ApplyRegisterInput,
    r: { outcome: 'too_many_bindings' | 'registration_disabled'; holders: StoredBinding[]; maxBindings: number },
  ): Promise<void> {
    const wanted = await this.subscribed(tx, input.accountId);
    if (!wanted.has('registration.rejected')) return;
    await this.outbox.enqueue(tx, input.accountId, 'registration.rejected', rejectedEventData(input, r));
  }

  private async subscribed(tx: Transaction, accountId: number): Promise<Set<string>> {
    const rows = await this.sequelize.query<{ events: unknown }>('SELECT events FROM webhooks WHERE account_id = :accountId AND active = :active', {
      replacements: { accountId, active: true },
      type: QueryTypes.SELECT,
      transaction: tx,
    });
    const out = new Set<string>();
    for (const r of rows) for (const e of parseEvents(r.events)) if (e.startsWith('registration.')) out.add(e);
    return out;
  }
}

/** The webhook `data` of one registration.* event a REGISTER made (the same for every storage adapter). */
export function outboxEventData(row: RegistrationOutboxRow, input: ApplyRegisterInput): unknown {
  if (row.type === 'registration.rejected') return rejectedEventData(input, row.rejection);
  return bindingEventData(row.binding, 'reason' in row ? row.reason : undefined);
}

/** max_bindings refused a new device: who tried, and the devices that hold the slots. */
export function rejectedEventData(input: ApplyRegisterInput, r: Pick<RegisterRejection, 'outcome' | 'holders' | 'maxBindings'>): unknown {
  const contacts = input.contacts === 'wildcard' || input.contacts === 'query' ? [] : input.contacts.filter((c) => c.expires > 0).map((c) => c.uri);
  return {
    user_id: input.userId,
    aor: input.aor,
    reason: r.outcome,
    max_bindings: r.maxBindings,
    attempt: {
      contacts,
      transport: input.origin.transport,
      source_address: input.origin.sourceAddress,
      source_port: input.origin.sourcePort,
      user_agent: input.origin.userAgent,
    },
    holders: r.holders.map((h) => bindingEventData(h).binding),
  };
}
