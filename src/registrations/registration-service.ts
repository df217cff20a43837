import { Op, type Sequelize } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Actor } from '../http/actor.js';
import { NotFoundError } from '../errors.js';
import { isAdmin, requireAdmin, requireReader } from '../shared/policy.js';
import { findInAccount } from '../shared/references.js';
import { keysetPage, type Page } from '../shared/pagination.js';
import { presentRegistration, type RegistrationView } from './registration-presenter.js';
import type { RegistrationListQueryInput } from './registration-schemas.js';
import type { BindingRemoval } from './binding-removal.js';

export interface RegistrationServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  /** Deletes bindings and queues registration.removed (reason "api") in the deleting transaction, as the registrar's sweepers do. */
  removal: BindingRemoval;
  now?: () => number;
}

/**
 * SIP bindings seen from the API. The registrar (sip/) writes the same
 * table; this side only reads and deletes, so src/ never needs sip/.
 * Admins and viewers see every user's bindings; a user sees and removes
 * its own devices. Other accounts' ids are 404.
 */
export class RegistrationService {
  private readonly now: () => number;

  constructor(private readonly d: RegistrationServiceDeps) {
    this.now = d.now ?? Date.now;
  }

  async listForUser(actor: Actor, userId: number, q: { limit: number; cursor?: string | undefined }): Promise<Page<RegistrationView>> {
    await this.readableUser(actor, userId);
    return this.page({ account_id: actor.accountId, user_id: userId }, q);
  }

  async listForAccount(actor: Actor, q: RegistrationListQueryInput): Promise<Page<RegistrationView>> {
    requireReader(actor);
    if (!isAdmin(actor) && actor.role !== 'viewer') requireAdmin(actor);
    const where: Record<string, unknown> = { account_id: actor.accountId };
    if (q.user_id) where.user_id = q.user_id;
    return this.page(where, q);
  }

  async removeOne(actor: Actor, userId: number, bindingId: number): Promise<void> {
    await this.d.sequelize.transaction(async (tx) => {
      await this.writableUser(actor, userId, tx);
      const row = await this.d.models.Registration.findOne({ where: { id: bindingId, user_id: userId, account_id: actor.accountId }, transaction: tx });
      if (!row || new Date(row.expires_at).getTime() <= this.now()) throw new NotFoundError('registration', bindingId);
      const before = presentRegistration(row, this.now());
      await this.d.removal.remove(tx, [row], 'api');
      await this.d.audit.record(tx, actor, { action: 'registration.deleted', targetType: 'registration', targetId: bindingId, before });
      await this.forceReauthentication(userId, tx);
    });
  }

  async removeAll(actor: Actor, userId: number): Promise<number> {
    return this.d.sequelize.transaction(async (tx) => {
      await this.writableUser(actor, userId, tx);
      const rows = await this.d.models.Registration.findAll({ where: { user_id: userId, account_id: actor.accountId }, transaction: tx });
      const now = this.now();
      const live = rows.filter((r) => new Date(r.expires_at).getTime() > now);
      await this.d.removal.remove(tx, live, 'api');
      // Rows already past expiry go too, with the event the sweeper would have sent for them.
      await this.d.removal.remove(
        tx,
        rows.filter((r) => new Date(r.expires_at).getTime() <= now),
        'expired',
      );
      await this.d.audit.record(tx, actor, {
        action: 'registration.deleted_all',
        targetType: 'user',
        targetId: userId,
        before: { registrations: live.map((r) => ({ id: Number(r.id), contact: r.contact_uri, user_agent: r.user_agent })) },
      });
      await this.forceReauthentication(userId, tx);
      return live.length;
    });
  }

  /**
   * The removed device's next REGISTER must authenticate again rather than
   * reuse its nonce: the registrar refuses answers to nonces issued before
   * this instant. The version bump makes registrars that cached the
   * credentials re-read them.
   */
  private async forceReauthentication(userId: number, tx: import('sequelize').Transaction): Promise<void> {
    await this.d.models.User.update(
      { sip_reauth_after: new Date(this.now()), version: this.d.sequelize.literal('version + 1') },
      { where: { id: userId }, transaction: tx },
    );
  }

  private async page(where: Record<string, unknown>, q: { limit: number; cursor?: string | undefined }): Promise<Page<RegistrationView>> {
    const now = this.now();
    const page = await keysetPage(
      this.d.models.Registration,
      { ...where, expires_at: { [Op.gt]: new Date(now) } },
      {
        sort: 'id',
        limit: q.limit,
        cursor: q.cursor,
      },
    );
    return { data: page.data.map((r) => presentRegistration(r, now)), next_cursor: page.next_cursor };
  }

  private async readableUser(actor: Actor, userId: number): Promise<void> {
    requireReader(actor);
    if (!isAdmin(actor) && actor.role !== 'viewer' && actor.userId !== userId) throw new NotFoundError('user', userId);
    await findInAccount(this.d.models.User, actor.accountId, userId, 'user');
  }

  private async writableUser(actor: Actor, userId: number, tx: import('sequelize').Transaction): Promise<void> {
    // A user may unplug its own devices; everyone else needs admin rights.
    if (!(actor.role === 'user' && actor.userId === userId)) {
      if (!isAdmin(actor) && actor.role !== 'viewer' && actor.userId !== userId) throw new NotFoundError('user', userId);
      requireAdmin(actor);
    }
    await findInAccount(this.d.models.User, actor.accountId, userId, 'user', tx);
  }
}
