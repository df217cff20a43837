import { Op, type Sequelize } from 'sequelize';
import type { Models, TelephonyProvider } from '../db/models/index.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Actor } from '../http/actor.js';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';
import { RuleError } from '../errors.js';
import { numberReferences } from '../numbers/number-rules.js';
import { nonEmpty } from '../shared/in-use.js';
import type { CarrierFactory } from './carriers/carrier-factory.js';
import type { CarrierNumber } from './carriers/carrier.js';
import type { z } from 'zod';
import type { SyncResultSchema } from './provider-schemas.js';

export type SyncResult = z.infer<typeof SyncResultSchema>;

export interface NumberSyncDeps {
  sequelize: Sequelize;
  models: Models;
  secrets: SecretBox;
  audit: AuditLog;
  outbox: WebhookOutbox;
  carriers: CarrierFactory;
  now: () => Date;
}

/**
 * Imports a provider's numbers. The carrier's whole list is read first (every
 * page), so a failure half-way changes nothing and a partial list never looks
 * like numbers that went away; then one transaction, holding the provider row
 * locked so two nodes syncing at once apply one after the other.
 */
export class NumberSync {
  constructor(private readonly d: NumberSyncDeps) {}

  async sync(actor: Actor, providerId: number): Promise<SyncResult> {
    const { models } = this.d;
    const p = await models.TelephonyProvider.findOne({ where: { id: providerId, account_id: actor.accountId, deleted_at: null } });
    if (!p) throw new RuleError('provider_gone', `Provider ${providerId} no longer exists`);
    const carrier = this.d.carriers(p.type, JSON.parse(this.d.secrets.decrypt(p.credentials_enc)) as Record<string, string>);
    if (!carrier)
      throw new RuleError('sync_not_supported', 'A SIP trunk has no number inventory to import: add its numbers with POST /v1/numbers and provider_id', 'id');
    const listed = new Map<string, CarrierNumber>();
    try {
      for await (const page of carrier.numbers()) for (const n of page) listed.set(n.e164, n);
    } catch (err) {
      await models.TelephonyProvider.update({ last_sync_error: String((err as Error).message).slice(0, 500) }, { where: { id: p.id } });
      throw err;
    }
    return this.d.sequelize.transaction(async (tx) => {
      const locked = await models.TelephonyProvider.findOne({ where: { id: p.id, deleted_at: null }, lock: tx.LOCK.UPDATE, transaction: tx });
      if (!locked) throw new RuleError('provider_gone', `Provider ${providerId} no longer exists`);
      const result: SyncResult = { added: [], updated: [], missing: [], conflicts: [] };
      const existing = listed.size ? await models.PhoneNumber.findAll({ where: { e164: { [Op.in]: [...listed.keys()] } }, transaction: tx }) : [];
      const byE164 = new Map(existing.map((n) => [n.e164, n]));
      for (const [e164, n] of listed) {
        const caps = { label: n.label, voice: n.voice, sms: n.sms, mms: n.mms, fax: n.fax };
        const row = byE164.get(e164);
        if (!row) {
          await models.PhoneNumber.create(
            { account_id: p.account_id, e164, provider: p.type, provider_id: p.id, provider_missing: false, ...caps },
            { transaction: tx },
          );
          result.added.push(e164);
          continue;
        }
        if (row.account_id !== p.account_id) {
          result.conflicts.push({ e164, reason: 'held_by_another_account' });
          continue;
        }
        if (row.provider_id !== null && row.provider_id !== p.id) {
          result.conflicts.push({ e164, reason: 'held_by_another_provider' });
          continue;
        }
        // A label set by hand is kept; the carrier's friendly name fills an empty one.
        const next = { ...caps, label: row.label ?? n.label, provider_id: p.id, provider: p.type, provider_missing: false };
        const changed =
          row.label !== next.label ||
          (['voice', 'sms', 'mms', 'fax'] as const).some((k) => Boolean(row[k]) !== next[k]) ||
          row.provider_id !== p.id ||
          row.provider !== p.type ||
          Boolean(row.provider_missing);
        if (changed) {
          await row.update(next, { transaction: tx });
          result.updated.push(e164);
        }
      }
      const gone = await models.PhoneNumber.findAll({ where: { provider_id: p.id, e164: { [Op.notIn]: [...listed.keys(), ''] } }, transaction: tx });
      for (const row of gone) {
        // Never delete a number something points at: it is flagged for an admin to sort out.
        if (nonEmpty(await numberReferences(models, row, tx))) {
          if (!row.provider_missing) await row.update({ provider_missing: true }, { transaction: tx });
          result.missing.push({ e164: row.e164, action: 'flagged' });
        } else {
          await row.destroy({ transaction: tx });
          result.missing.push({ e164: row.e164, action: 'removed' });
        }
      }
      await locked.update({ last_synced_at: this.d.now(), last_sync_error: null }, { transaction: tx });
      const summary = { added: result.added.length, updated: result.updated.length, missing: result.missing.length, conflicts: result.conflicts.length };
      await this.d.audit.record(tx, actor, { action: 'telephony_provider.synced', targetType: 'telephony_provider', targetId: p.id, after: summary });
      await this.d.outbox.enqueue(tx, p.account_id, 'numbers.synced', { provider_id: p.id, provider_type: p.type, ...result });
      return result;
    });
  }

  /** Providers due an import by the interval; claims each with a guarded update so one node runs it. */
  async claimDue(intervalMinutes: number, limit = 20): Promise<TelephonyProvider[]> {
    const now = this.d.now();
    const cutoff = new Date(now.getTime() - intervalMinutes * 60_000);
    const due = await this.d.models.TelephonyProvider.findAll({
      where: {
        type: { [Op.in]: ['twilio', 'telnyx', 'plivo'] },
        enabled: true,
        deleted_at: null,
        [Op.or]: [{ last_synced_at: null }, { last_synced_at: { [Op.lt]: cutoff } }],
      },
      order: [['id', 'ASC']],
      limit,
    });
    const claimed: TelephonyProvider[] = [];
    for (const p of due) {
      // last_synced_at moves forward at the claim: another node's claim of the same row then matches nothing.
      const [n] = await this.d.models.TelephonyProvider.update(
        { last_synced_at: now },
        { where: { id: p.id, ...(p.last_synced_at ? { last_synced_at: p.last_synced_at } : { last_synced_at: null }) } },
      );
      if (n === 1) claimed.push(p);
    }
    return claimed;
  }
}
