import type { Sequelize, WhereOptions } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { diff, type AuditLog } from '../audit/audit-log.js';
import type { Logger } from '../logger.js';
import { keysetPage, type Page } from '../shared/pagination.js';
import { requireAdmin } from '../shared/policy.js';
import { NotFoundError, RuleError } from '../errors.js';
import { assertNotReferenced } from '../shared/in-use.js';
import type { CarrierFactory } from './carriers/carrier-factory.js';
import type { NumberSync, SyncResult } from './number-sync.js';
import { presentProvider as presentRow, type ProviderView } from './provider-presenter.js';
import type { CreateProviderInput, ProviderListInput, UpdateProviderInput } from './provider-schemas.js';
import * as rules from './provider-rules.js';

export interface ProviderServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  secrets: SecretBox;
  carriers: CarrierFactory;
  sync: NumberSync;
  logger: Logger;
  /** PUBLIC_URL: the carriers' SMS webhook URLs are built from it. */
  publicUrl: string;
}

/**
 * An account's own carriers. Credentials are checked with the carrier before
 * anything is written (wrong ones: 422, carrier unreachable: 502), stored
 * encrypted under the master key and never presented. SIP trunk registration
 * is done by the SIP layer (sip/trunks), which reads these rows.
 */
export class ProviderService {
  private readonly present: (p: import('../db/models/index.js').TelephonyProvider) => ProviderView;

  constructor(private readonly d: ProviderServiceDeps) {
    this.present = (p) => presentRow(p, d.publicUrl);
  }

  async list(actor: Actor, q: ProviderListInput): Promise<Page<ProviderView>> {
    requireAdmin(actor);
    const where: Record<string, unknown> = { account_id: actor.accountId, deleted_at: null };
    if (q.type) where.type = q.type;
    const page = await keysetPage(this.d.models.TelephonyProvider, where as WhereOptions, { sort: 'id', limit: q.limit, cursor: q.cursor });
    return { data: page.data.map(this.present), next_cursor: page.next_cursor };
  }

  async get(actor: Actor, id: number): Promise<ProviderView> {
    requireAdmin(actor);
    return this.present(await this.find(actor, id));
  }

  async create(actor: Actor, input: CreateProviderInput): Promise<ProviderView> {
    requireAdmin(actor);
    const credentials = input.credentials as Record<string, string>;
    await this.verify(input.type, credentials);
    const view = await this.d.sequelize.transaction(async (tx) => {
      await rules.nameFree(this.d.models, actor.accountId, input.name, null, tx);
      const p = await this.d.models.TelephonyProvider.create(
        {
          account_id: actor.accountId,
          type: input.type,
          name: input.name,
          credentials_enc: this.d.secrets.encrypt(JSON.stringify(credentials)),
          credentials_hint: rules.credentialsHint(input.type, credentials),
          settings: JSON.stringify(input.settings),
          enabled: true,
        },
        { transaction: tx },
      );
      const v = this.present(p);
      await this.d.audit.record(tx, actor, { action: 'telephony_provider.created', targetType: 'telephony_provider', targetId: p.id, after: v });
      return v;
    });
    if (input.type === 'sip_trunk') return view;
    // The first import runs at once, as an admin expects the carrier's numbers under Numbers right after Save.
    const sync = await this.trySync(actor, view.id);
    return { ...this.present(await this.find(actor, view.id)), ...(sync ? { sync } : {}) };
  }

  async update(actor: Actor, id: number, input: UpdateProviderInput): Promise<ProviderView> {
    requireAdmin(actor);
    const current = await this.find(actor, id);
    const credentials = input.credentials ? rules.parseCredentials(current.type, input.credentials) : null;
    let settings: string | null = null;
    if (input.settings) {
      const merged = { ...(JSON.parse(current.settings) as object), ...input.settings };
      if (current.type === 'sip_trunk') settings = JSON.stringify(rules.parseTrunkSettings(merged));
      else if (current.type === 'telnyx') settings = JSON.stringify(rules.parseTelnyxSettings(merged));
      else throw new RuleError('settings_not_supported', `A ${current.type} provider has no settings`, 'settings');
    }
    if (credentials) await this.verify(current.type, credentials);
    return this.d.sequelize.transaction(async (tx) => {
      const p = await this.find(actor, id, tx);
      const before = this.present(p);
      if (input.name !== undefined && input.name !== p.name) await rules.nameFree(this.d.models, actor.accountId, input.name, p.id, tx);
      await p.update(
        {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
          ...(settings ? { settings } : {}),
          ...(credentials
            ? { credentials_enc: this.d.secrets.encrypt(JSON.stringify(credentials)), credentials_hint: rules.credentialsHint(p.type, credentials) }
            : {}),
          // A trunk whose credentials or target changed registers afresh: the registering node sees the new state.
          ...(p.type === 'sip_trunk' && (credentials || settings || input.enabled !== undefined) ? { reg_state: null, reg_last_error: null } : {}),
        },
        { transaction: tx },
      );
      const after = this.present(p);
      const changed = diff(before, after);
      if (credentials) {
        changed.before.credentials = '[redacted]';
        changed.after.credentials = '[rotated]';
      }
      await this.d.audit.record(tx, actor, { action: 'telephony_provider.updated', targetType: 'telephony_provider', targetId: p.id, ...changed });
      return after;
    });
  }

  /**
   * 409 in_use while any of its numbers is a caller ID, SMS sender, fax number
   * or the account default; otherwise its numbers go with it. A registered
   * trunk stays as a tombstone until its node has unregistered (Expires: 0).
   */
  async remove(actor: Actor, id: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const p = await this.find(actor, id, tx);
      assertNotReferenced('telephony_provider', p.id, await rules.providerReferences(this.d.models, p, tx));
      const before = this.present(p);
      await this.d.models.PhoneNumber.destroy({ where: { provider_id: p.id }, transaction: tx });
      const settings = JSON.parse(p.settings) as { register?: boolean };
      if (p.type === 'sip_trunk' && settings.register && p.enabled) await p.update({ deleted_at: new Date(), enabled: false }, { transaction: tx });
      else await p.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'telephony_provider.deleted', targetType: 'telephony_provider', targetId: id, before });
    });
  }

  async sync(actor: Actor, id: number): Promise<SyncResult> {
    requireAdmin(actor);
    const p = await this.find(actor, id);
    if (!p.enabled) throw new RuleError('provider_disabled', `Provider ${id} is disabled`, 'id');
    return this.d.sync.sync(actor, p.id);
  }

  private async trySync(actor: Actor, id: number): Promise<SyncResult | null> {
    try {
      return await this.d.sync.sync(actor, id);
    } catch (err) {
      // Saved with good credentials: a carrier hiccup on the first import is recorded on the provider, and the job retries.
      this.d.logger.warn({ err, provider_id: id }, 'first number import failed');
      return null;
    }
  }

  private async verify(type: CreateProviderInput['type'], credentials: Record<string, string>): Promise<void> {
    const carrier = this.d.carriers(type, credentials);
    if (carrier) await carrier.verify();
  }

  private async find(actor: Actor, id: number, tx?: import('sequelize').Transaction) {
    const p = await this.d.models.TelephonyProvider.findOne({ where: { id, account_id: actor.accountId, deleted_at: null }, transaction: tx });
    if (!p) throw new NotFoundError('telephony_provider', id);
    return p;
  }
}
