import type { Sequelize, WhereOptions } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';
import { diff, type AuditLog } from '../audit/audit-log.js';
import { keysetPage, type Page } from '../shared/pagination.js';
import { requireAdmin, requireReader } from '../shared/policy.js';
import { findInAccount } from '../shared/references.js';
import { assertNotReferenced } from '../shared/in-use.js';
import { presentNumber, type NumberView } from './number-presenter.js';
import type { CreateNumberInput, NumberListInput, UpdateNumberInput } from './number-schemas.js';
import * as rules from './number-rules.js';
import { definedFields } from '../shared/defined-fields.js';

export interface NumberServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
}

/** Phone numbers of an account: validate → persist → audit, in one transaction. */
export class NumberService {
  constructor(private readonly d: NumberServiceDeps) {}

  async list(actor: Actor, q: NumberListInput): Promise<Page<NumberView>> {
    requireReader(actor);
    const where: Record<string, unknown> = { account_id: actor.accountId };
    if (q.e164) where.e164 = q.e164;
    if (q.capability) where[q.capability] = true;
    if (q.provider) where.provider = q.provider;
    if (q.provider_id) where.provider_id = q.provider_id;
    const page = await keysetPage(this.d.models.PhoneNumber, where as WhereOptions, { sort: 'id', limit: q.limit, cursor: q.cursor });
    return { data: page.data.map(presentNumber), next_cursor: page.next_cursor };
  }

  async get(actor: Actor, id: number): Promise<NumberView> {
    requireReader(actor);
    return presentNumber(await findInAccount(this.d.models.PhoneNumber, actor.accountId, id, 'number'));
  }

  async create(actor: Actor, input: CreateNumberInput): Promise<NumberView> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      await rules.e164Free(this.d.models, input.e164, null, tx);
      const provider = input.provider_id ? await rules.providerOfAccount(this.d.models, actor.accountId, input.provider_id, tx) : null;
      const n = await this.d.models.PhoneNumber.create(
        {
          account_id: actor.accountId,
          e164: input.e164,
          label: input.label ?? null,
          voice: input.capabilities?.voice ?? true,
          sms: input.capabilities?.sms ?? false,
          fax: input.capabilities?.fax ?? false,
          mms: input.capabilities?.mms ?? false,
          provider: provider?.type ?? input.provider ?? 'default',
          provider_id: provider?.id ?? null,
        },
        { transaction: tx },
      );
      const view = presentNumber(n);
      await this.d.audit.record(tx, actor, { action: 'number.created', targetType: 'number', targetId: n.id, after: view });
      return view;
    });
  }

  async update(actor: Actor, id: number, input: UpdateNumberInput): Promise<NumberView> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const n = await findInAccount(this.d.models.PhoneNumber, actor.accountId, id, 'number', tx);
      const before = presentNumber(n);
      if (input.e164 !== undefined && input.e164 !== n.e164) {
        await rules.e164Free(this.d.models, input.e164, n.id, tx);
        // Users and the account store the number as text: renumbering under them would silently repoint them.
        assertNotReferenced('number', n.id, await rules.numberReferences(this.d.models, n, tx), 'renumbered', 'e164');
      }
      const caps = input.capabilities ?? {};
      let providerFields = {};
      if (input.provider_id !== undefined && input.provider_id !== n.provider_id) {
        const provider = input.provider_id ? await rules.providerOfAccount(this.d.models, actor.accountId, input.provider_id, tx) : null;
        providerFields = { provider_id: provider?.id ?? null, provider: provider?.type ?? 'default', provider_missing: false };
      }
      if (caps.sms === false && n.sms) await rules.smsStillNeeded(this.d.models, n, tx);
      if (caps.fax === false && n.fax) await rules.faxStillNeeded(this.d.models, n, tx);
      if (caps.voice === false && n.voice)
        assertNotReferenced('number', n.id, await rules.scheduleReferences(this.d.models, n, tx), 'made voice-incapable', 'capabilities.voice');
      await n.update(
        {
          ...definedFields(input, ['e164', 'label', 'provider']),
          ...definedFields(caps, ['voice', 'sms', 'fax', 'mms']),
          ...providerFields,
        },
        { transaction: tx },
      );
      const after = presentNumber(n);
      const changed = diff(before, after);
      await this.d.audit.record(tx, actor, { action: 'number.updated', targetType: 'number', targetId: n.id, ...changed });
      return after;
    });
  }

  async remove(actor: Actor, id: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const n = await findInAccount(this.d.models.PhoneNumber, actor.accountId, id, 'number', tx);
      assertNotReferenced('number', n.id, {
        ...(await rules.numberReferences(this.d.models, n, tx)),
        ...(await rules.scheduleReferences(this.d.models, n, tx)),
      });
      const before = presentNumber(n);
      await n.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'number.deleted', targetType: 'number', targetId: id, before });
    });
  }
}
