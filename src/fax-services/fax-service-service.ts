import type { Sequelize, WhereOptions } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';
import { diff, type AuditLog } from '../audit/audit-log.js';
import { keysetPage, prefixMatch, type Page } from '../shared/pagination.js';
import { requireAdmin, requireReader } from '../shared/policy.js';
import { findInAccount } from '../shared/references.js';
import { assertNotReferenced } from '../shared/in-use.js';
import { presentFaxService, type FaxServiceView } from './fax-service-presenter.js';
import type { CreateFaxServiceInput, FaxServiceListInput, UpdateFaxServiceInput } from './fax-service-schemas.js';
import * as rules from './fax-service-rules.js';
import { definedFields } from '../shared/defined-fields.js';

export interface FaxServiceServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
}

/** Fax services: a fax-capable number plus where to announce received faxes. */
export class FaxServiceService {
  constructor(private readonly d: FaxServiceServiceDeps) {}

  async list(actor: Actor, q: FaxServiceListInput): Promise<Page<FaxServiceView>> {
    requireReader(actor);
    const where: Record<string, unknown> = { account_id: actor.accountId };
    if (q.name) where.name = prefixMatch(q.name);
    if (q.number_id) where.number_id = q.number_id;
    const page = await keysetPage(this.d.models.FaxService, where as WhereOptions, { sort: 'id', limit: q.limit, cursor: q.cursor });
    return { data: page.data.map(presentFaxService), next_cursor: page.next_cursor };
  }

  async get(actor: Actor, id: number): Promise<FaxServiceView> {
    requireReader(actor);
    return presentFaxService(await findInAccount(this.d.models.FaxService, actor.accountId, id, 'fax_service'));
  }

  async create(actor: Actor, input: CreateFaxServiceInput): Promise<FaxServiceView> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      await rules.faxCapableNumber(this.d.models, actor.accountId, input.number_id, tx);
      const f = await this.d.models.FaxService.create(
        { account_id: actor.accountId, name: input.name, number_id: input.number_id, notify_email: input.notify_email ?? null },
        { transaction: tx },
      );
      const view = presentFaxService(f);
      await this.d.audit.record(tx, actor, { action: 'fax_service.created', targetType: 'fax_service', targetId: f.id, after: view });
      return view;
    });
  }

  async update(actor: Actor, id: number, input: UpdateFaxServiceInput): Promise<FaxServiceView> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const f = await findInAccount(this.d.models.FaxService, actor.accountId, id, 'fax_service', tx);
      const before = presentFaxService(f);
      if (input.number_id !== undefined && input.number_id !== f.number_id) await rules.faxCapableNumber(this.d.models, actor.accountId, input.number_id, tx);
      await f.update(
        {
          ...definedFields(input, ['name', 'number_id', 'notify_email']),
        },
        { transaction: tx },
      );
      const after = presentFaxService(f);
      const changed = diff(before, after);
      await this.d.audit.record(tx, actor, { action: 'fax_service.updated', targetType: 'fax_service', targetId: f.id, ...changed });
      return after;
    });
  }

  async remove(actor: Actor, id: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const f = await findInAccount(this.d.models.FaxService, actor.accountId, id, 'fax_service', tx);
      assertNotReferenced('fax_service', f.id, await rules.faxServiceReferences(this.d.models, f, tx));
      const before = presentFaxService(f);
      await f.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'fax_service.deleted', targetType: 'fax_service', targetId: id, before });
    });
  }
}
