import { Op, QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { Models } from '../db/models/index.js';
import { ForbiddenError, NotFoundError, RuleError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import type { Clock } from '../shared/clock.js';
import { requireOwner } from './account-policy.js';

export interface WorkspaceDeletionResult {
  account_id: number;
  deleted_at: string;
  counts: Record<string, number>;
}

/**
 * DELETE /v1/account: the owner ends the workspace. Everything of the account
 * goes in one transaction, children before parents (the foreign keys would
 * refuse the other order), so a failure leaves the workspace whole. Phones
 * stop at once on every node because the registrar re-reads the user row
 * under lock for every REGISTER and finds none. What stays is one row in
 * account_deletions, outside the account: who, when, how much.
 */
export class WorkspaceDeletionService {
  constructor(private readonly d: { sequelize: Sequelize; models: Models; now: Clock }) {}

  async delete(actor: Actor, confirm: string): Promise<WorkspaceDeletionResult> {
    requireOwner(actor);
    if (actor.userId === null) throw new ForbiddenError('owner_required', "Only the workspace owner's own credential can delete the workspace");
    return this.d.sequelize.transaction(async (tx) => {
      const m = this.d.models;
      const account = await m.Account.findByPk(actor.accountId, { transaction: tx, lock: tx.LOCK.UPDATE });
      if (!account) throw new NotFoundError('account', actor.accountId);
      const owner = await m.User.findOne({ where: { id: actor.userId!, account_id: account.id, role: 'owner' }, attributes: ['id'], transaction: tx });
      if (!owner) throw new ForbiddenError('owner_required', 'Only the workspace owner can delete the workspace');
      if (confirm !== account.name) {
        throw new RuleError('confirmation_mismatch', 'Type the workspace name exactly as it is to confirm the deletion', 'confirm');
      }
      const counts = await this.deleteEverything(account.id, tx);
      const deletedAt = this.d.now();
      await m.AccountDeletion.create(
        {
          account_id: account.id,
          account_name: account.name,
          sip_domain: account.sip_domain,
          deleted_by: actor.actorId,
          deleted_by_user_id: actor.userId,
          source_ip: actor.sourceIp,
          counts,
          deleted_at: deletedAt,
        },
        { transaction: tx },
      );
      return { account_id: account.id, deleted_at: deletedAt.toISOString(), counts };
    });
  }

  private async deleteEverything(accountId: number, tx: Transaction): Promise<Record<string, number>> {
    const m = this.d.models;
    const where = { account_id: accountId };
    const opts = { where, transaction: tx };
    const mailboxIds = (await m.Mailbox.findAll({ ...opts, attributes: ['id'] })).map((x) => x.id);
    const pendingDeliveries = await m.WebhookDelivery.count({ where: { ...where, status: 'pending' }, transaction: tx });
    const counts: Record<string, number> = {};
    counts.webhook_deliveries = await m.WebhookDelivery.destroy(opts);
    counts.pending_webhook_deliveries = pendingDeliveries;
    counts.webhooks = await m.Webhook.destroy(opts);
    counts.registrations = await m.Registration.destroy(opts);
    counts.access_tokens = await m.AccessToken.destroy(opts);
    counts.api_keys = await m.ApiKey.destroy(opts);
    counts.oncall_shifts = await m.OncallShift.destroy(opts);
    counts.oncall_rotations = await m.OncallRotation.destroy(opts);
    counts.oncall_schedules = await m.OncallSchedule.destroy(opts);
    counts.mailbox_delegations = mailboxIds.length ? await m.MailboxDelegation.destroy({ where: { mailbox_id: { [Op.in]: mailboxIds } }, transaction: tx }) : 0;
    counts.member_invitations = await m.MemberInvitation.destroy(opts);
    counts.users = await m.User.destroy(opts);
    counts.mailboxes = await m.Mailbox.destroy(opts);
    counts.fax_services = await m.FaxService.destroy(opts);
    counts.numbers = await m.PhoneNumber.destroy(opts);
    counts.locations = await m.Location.destroy(opts);
    counts.logos = await m.AccountLogo.destroy(opts);
    counts.audit_entries = await m.AuditEntry.destroy(opts);
    counts.usage_rows = await this.deleteUsage(accountId, tx);
    await m.Account.destroy({ where: { id: accountId }, transaction: tx });
    return counts;
  }

  /** Usage rows have no foreign key (a late flush must not fail on a deleted account): they go here by name. */
  private async deleteUsage(accountId: number, tx: Transaction): Promise<number> {
    const q = (sql: string) => this.d.sequelize.query<{ n: number }>(sql, { replacements: [accountId], transaction: tx, type: QueryTypes.SELECT });
    const [row] = await q('SELECT COUNT(*) AS n FROM usage_daily WHERE account_id = ?');
    for (const table of ['usage_daily', 'usage_monthly', 'usage_account_daily', 'usage_alerts']) {
      await this.d.sequelize.query(`DELETE FROM ${table} WHERE account_id = ?`, { replacements: [accountId], transaction: tx });
    }
    return Number(row?.n ?? 0);
  }
}
