import { Op, type WhereOptions } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';
import { ForbiddenError } from '../errors.js';
import { isAdmin } from '../shared/policy.js';
import { keysetPage, type Page } from '../shared/pagination.js';
import { presentAuditEntry, type AuditEntryView } from './audit-presenter.js';
import type { AuditListInput } from './audit-schemas.js';

/** Reading the audit trail: owner and admins of the account only, newest first. */
export class AuditService {
  constructor(private readonly models: Models) {}

  async list(actor: Actor, q: AuditListInput): Promise<Page<AuditEntryView>> {
    if (!isAdmin(actor)) throw new ForbiddenError('admin_required', 'Only the owner or an admin can read the audit log');
    const where: Record<string | symbol, unknown> = { account_id: actor.accountId };
    if (q.actor_id) where.actor_id = q.actor_id;
    if (q.action) where.action = q.action;
    if (q.target_type) where.target_type = q.target_type;
    if (q.target_id) where.target_id = q.target_id;
    const time: Record<symbol, Date> = {};
    if (q.since) time[Op.gte] = new Date(q.since);
    if (q.until) time[Op.lt] = new Date(q.until);
    if (q.since || q.until) where.created_at = time;
    const page = await keysetPage(this.models.AuditEntry, where as WhereOptions, { sort: 'id', limit: q.limit, cursor: q.cursor, descending: true });
    return { data: page.data.map(presentAuditEntry), next_cursor: page.next_cursor };
  }
}
