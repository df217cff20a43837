import type { Sequelize, WhereOptions } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';
import { diff, type AuditLog } from '../audit/audit-log.js';
import { keysetPage, prefixMatch, type Page } from '../shared/pagination.js';
import { requireAdmin, requireReader } from '../shared/policy.js';
import { findInAccount } from '../shared/references.js';
import { assertNotReferenced } from '../shared/in-use.js';
import { presentLocation, type LocationView } from './location-presenter.js';
import type { CreateLocationInput, LocationListInput, UpdateLocationInput } from './location-schemas.js';
import * as rules from './location-rules.js';

export interface LocationServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
}

/** E911 locations: the address an emergency call from a user is routed with. */
export class LocationService {
  constructor(private readonly d: LocationServiceDeps) {}

  async list(actor: Actor, q: LocationListInput): Promise<Page<LocationView>> {
    requireReader(actor);
    const where: Record<string, unknown> = { account_id: actor.accountId };
    if (q.name) where.name = prefixMatch(q.name);
    if (q.country) where.country = q.country;
    if (q.city) where.city = q.city;
    const page = await keysetPage(this.d.models.Location, where as WhereOptions, { sort: 'id', limit: q.limit, cursor: q.cursor });
    return { data: page.data.map(presentLocation), next_cursor: page.next_cursor };
  }

  async get(actor: Actor, id: number): Promise<LocationView> {
    requireReader(actor);
    return presentLocation(await findInAccount(this.d.models.Location, actor.accountId, id, 'location'));
  }

  async create(actor: Actor, input: CreateLocationInput): Promise<LocationView> {
    requireAdmin(actor);
    rules.countryAssigned(input.country);
    return this.d.sequelize.transaction(async (tx) => {
      const l = await this.d.models.Location.create({ account_id: actor.accountId, ...input, address_line2: input.address_line2 ?? null }, { transaction: tx });
      const view = presentLocation(l);
      await this.d.audit.record(tx, actor, { action: 'location.created', targetType: 'location', targetId: l.id, after: view });
      return view;
    });
  }

  async update(actor: Actor, id: number, input: UpdateLocationInput): Promise<LocationView> {
    requireAdmin(actor);
    if (input.country !== undefined) rules.countryAssigned(input.country);
    return this.d.sequelize.transaction(async (tx) => {
      const l = await findInAccount(this.d.models.Location, actor.accountId, id, 'location', tx);
      const before = presentLocation(l);
      await l.update({ ...input }, { transaction: tx });
      const after = presentLocation(l);
      const changed = diff(before, after);
      await this.d.audit.record(tx, actor, { action: 'location.updated', targetType: 'location', targetId: l.id, ...changed });
      return after;
    });
  }

  async remove(actor: Actor, id: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const l = await findInAccount(this.d.models.Location, actor.accountId, id, 'location', tx);
      assertNotReferenced('location', l.id, await rules.locationReferences(this.d.models, l, tx));
      const before = presentLocation(l);
      await l.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'location.deleted', targetType: 'location', targetId: id, before });
    });
  }
}
