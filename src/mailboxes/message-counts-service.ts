import type { Sequelize } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';
import { requireAdmin } from '../shared/policy.js';
import { findInAccount } from '../shared/references.js';
import { presentMailbox, type MailboxView } from './mailbox-presenter.js';
import { countsEtag, decideCounts, urgentWithinTotal, type MessageCounts } from './message-counts-rules.js';
import type { MessageCountsInput } from './mailbox-schemas.js';

export interface MessageCountsServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  outbox: WebhookOutbox;
  now?: () => Date;
}

/**
 * Message counts reported by the voicemail system. A change is recorded in
 * `mwi_changes` in the same transaction as the counts, so every SIP node
 * (which polls that table) notifies the devices it holds once the commit
 * is visible, whichever node took this request.
 */
export class MessageCountsService {
  constructor(private readonly d: MessageCountsServiceDeps) {}

  async set(actor: Actor, id: number, input: MessageCountsInput, ifMatch?: string): Promise<{ view: MailboxView; etag: string; changed: boolean }> {
    requireAdmin(actor);
    const next: MessageCounts = { new: input.new, old: input.old, urgent_new: input.urgent_new ?? 0, urgent_old: input.urgent_old ?? 0 };
    urgentWithinTotal(next);
    const models = this.d.models;
    return this.d.sequelize.transaction(async (tx) => {
      // The row lock orders two updates of one mailbox (MySQL); SQLite has one writer.
      const found = await findInAccount(models.Mailbox, actor.accountId, id, 'mailbox', tx);
      const m =
        this.d.sequelize.getDialect() === 'mysql' ? ((await models.Mailbox.findByPk(found.id, { transaction: tx, lock: tx.LOCK.UPDATE })) ?? found) : found;
      const stored = { new: m.new_messages, old: m.old_messages, urgent_new: m.urgent_new_messages, urgent_old: m.urgent_old_messages, seq: m.counts_seq };
      const decision = decideCounts(m.id, stored, next, input.sequence, ifMatch);
      const delegates = async () =>
        (await models.MailboxDelegation.findAll({ where: { mailbox_id: m.id }, attributes: ['user_id'], transaction: tx })).map((x) => x.user_id);
      if (decision.kind === 'unchanged') return { view: presentMailbox(m, await delegates()), etag: countsEtag(m.id, m.counts_seq), changed: false };
      const at = this.d.now?.() ?? new Date();
      await m.update(
        {
          new_messages: next.new,
          old_messages: next.old,
          urgent_new_messages: next.urgent_new,
          urgent_old_messages: next.urgent_old,
          counts_seq: decision.seq,
          counts_updated_at: at,
        },
        { transaction: tx },
      );
      if (decision.countsChanged) {
        await this.d.sequelize.query('INSERT INTO mwi_changes (mailbox_id, created_at) VALUES (?, ?)', { replacements: [m.id, at], transaction: tx });
        const data = { mailbox_id: m.id, number: m.number, ...next, sequence: decision.seq, messages_waiting: next.new > 0 };
        await this.d.outbox.enqueue(tx, actor.accountId, 'mailbox.message_counts_changed', data);
        await this.d.audit.record(tx, actor, {
          action: 'mailbox.message_counts_changed',
          targetType: 'mailbox',
          targetId: m.id,
          before: { new: stored.new, old: stored.old, urgent_new: stored.urgent_new, urgent_old: stored.urgent_old },
          after: next,
        });
      }
      return { view: presentMailbox(m, await delegates()), etag: countsEtag(m.id, decision.seq), changed: decision.countsChanged };
    });
  }
}
