import { Op, type Sequelize, type Transaction } from 'sequelize';
import type { Account, Models } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { diff } from '../audit/audit-log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { ConflictError, NotFoundError, RuleError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { numberOfAccount } from '../users/user-rules.js';
import { sipSecretColumns } from '../users/sip-secret-fields.js';
import { isValidTimezone } from './account-service.js';
import { requireAccountAdmin } from './account-policy.js';
import type { UpdateAccountInput } from './account-schemas.js';
import type { z } from 'zod';
import type { AccountSchema } from './account-schemas.js';
import { smsThresholdFor } from '../usage/usage-rules.js';

export type AccountView = z.infer<typeof AccountSchema>;

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
const REHASH_BATCH = 500;

/** GET/PATCH /v1/account: the workspace's own settings. */
export class AccountSettingsService {
  constructor(
    private readonly d: {
      sequelize: Sequelize;
      models: Models;
      audit: AuditLog;
      secrets: SecretBox;
      publicUrl: string;
      /** usage.smsMonthlyThreshold: what a workspace without its own threshold gets. */
      smsMonthlyThreshold?: number;
    },
  ) {}

  /** Settings are the admins' page (seed 002); what every member needs comes with GET /v1/me. */
  async get(actor: Actor): Promise<AccountView> {
    requireAccountAdmin(actor);
    return this.present(await this.load(actor.accountId));
  }

  async update(actor: Actor, input: UpdateAccountInput): Promise<AccountView> {
    requireAccountAdmin(actor);
    if (input.timezone !== undefined && !isValidTimezone(input.timezone)) {
      throw new RuleError('invalid_timezone', `"${input.timezone}" is not an IANA time zone (e.g. America/New_York)`, 'timezone');
    }
    if (input.sip_domain !== undefined && !DOMAIN_RE.test(input.sip_domain)) {
      throw new RuleError('invalid_sip_domain', `"${input.sip_domain}" is not a DNS domain name`, 'sip_domain');
    }
    const account = await this.d.sequelize.transaction(async (tx) => {
      const a = await this.load(actor.accountId, tx);
      const before = await this.present(a, tx);
      if (input.default_caller_id_number) await numberOfAccount(this.d.models, a.id, input.default_caller_id_number, 'default_caller_id_number', false, tx);
      const domainChanged = input.sip_domain !== undefined && input.sip_domain !== a.sip_domain;
      if (domainChanged) await this.changeSipDomain(a, input.sip_domain!, tx);
      const changes: Partial<Account> = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.website !== undefined) changes.website = input.website;
      if (input.timezone !== undefined) changes.timezone = input.timezone;
      if (input.default_caller_id_number !== undefined) changes.default_caller_id_number = input.default_caller_id_number;
      if (input.binding_policy !== undefined) changes.binding_policy = input.binding_policy;
      if (input.mwi_enabled !== undefined) changes.mwi_enabled = input.mwi_enabled;
      if (input.sms_monthly_threshold !== undefined) changes.sms_monthly_threshold = input.sms_monthly_threshold;
      if (domainChanged) changes.sip_domain = input.sip_domain!;
      await a.update(changes, { transaction: tx });
      const after = await this.present(a, tx);
      const changed = diff(before, after);
      await this.d.audit.record(tx, actor, { action: 'account.updated', targetType: 'account', targetId: a.id, ...changed });
      return a;
    });
    return this.present(account);
  }

  /**
   * The SIP domain is the digest realm, and HA1 = H(user:realm:password)
   * (RFC 7616 §3.4.2), so every user's HA1 must be re-derived from the
   * stored (encrypted) SIP password in the same transaction. If any password
   * cannot be decrypted (master key not configured), the change is refused
   * rather than leaving users who can no longer register.
   */
  private async changeSipDomain(a: Account, domain: string, tx: Transaction): Promise<void> {
    const clash = await this.d.models.Account.findOne({ where: { sip_domain: domain, id: { [Op.ne]: a.id } }, transaction: tx });
    if (clash) throw new ConflictError('sip_domain_taken', `Another account already uses SIP domain ${domain}`, 'sip_domain');
    let lastId = 0;
    for (;;) {
      const users = await this.d.models.User.findAll({
        where: { account_id: a.id, id: { [Op.gt]: lastId } },
        order: [['id', 'ASC']],
        limit: REHASH_BATCH,
        attributes: ['id', 'username', 'sip_password_enc'],
        transaction: tx,
      });
      if (!users.length) break;
      for (const u of users) {
        let password: string;
        try {
          password = this.d.secrets.decrypt(u.sip_password_enc);
        } catch {
          throw new RuleError(
            'sip_passwords_unavailable',
            `The SIP domain cannot change: the SIP password of user ${u.id} cannot be decrypted with the configured master key, so its digest HA1 cannot be re-derived. Configure the master key it was stored under (or reset that user's SIP password) and retry`,
            'sip_domain',
          );
        }
        await this.d.models.User.update(
          { ...sipSecretColumns(this.d.secrets, u.username, domain, password), sip_prev_ha1_md5: null, sip_prev_ha1_sha256: null, sip_prev_valid_until: null },
          { where: { id: u.id }, transaction: tx },
        );
      }
      lastId = users[users.length - 1]!.id;
    }
  }

  private async load(accountId: number, tx?: Transaction): Promise<Account> {
    const a = await this.d.models.Account.findByPk(accountId, { transaction: tx });
    if (!a) throw new NotFoundError('account', accountId);
    return a;
  }

  /** The account as every member sees it (GET /v1/me): name, logo, SIP domain; nothing an admin alone may read. */
  async summary(accountId: number): Promise<{ id: number; name: string; sip_domain: string; logo_url: string | null }> {
    const [a, logo] = await Promise.all([
      this.d.models.Account.findByPk(accountId, { attributes: ['id', 'name', 'sip_domain'] }),
      this.d.models.AccountLogo.findByPk(accountId, { attributes: ['account_id', 'sha256', 'content_type'] }),
    ]);
    if (!a) throw new NotFoundError('account', accountId);
    return { id: a.id, name: a.name, sip_domain: a.sip_domain, logo_url: logo ? logoUrl(this.d.publicUrl, a.id, logo.sha256, logo.content_type) : null };
  }

  async present(a: Account, tx?: Transaction): Promise<AccountView> {
    const [owner, logo] = await Promise.all([
      this.d.models.User.findOne({ where: { account_id: a.id, role: 'owner' }, attributes: ['id'], transaction: tx }),
      this.d.models.AccountLogo.findByPk(a.id, { attributes: ['account_id', 'sha256', 'content_type'], transaction: tx }),
    ]);
    return {
      id: a.id,
      name: a.name,
      website: a.website,
      timezone: a.timezone,
      sip_domain: a.sip_domain,
      default_caller_id_number: a.default_caller_id_number,
      binding_policy: a.binding_policy ?? 'reject',
      mwi_enabled: a.mwi_enabled !== false,
      sms_monthly_threshold: a.sms_monthly_threshold ?? null,
      sms_monthly_threshold_effective: smsThresholdFor(a.sms_monthly_threshold, this.d.smsMonthlyThreshold ?? 0),
      logo_url: logo ? logoUrl(this.d.publicUrl, a.id, logo.sha256, logo.content_type) : null,
      owner_user_id: owner?.id ?? null,
      workspace_api_key_last4: a.workspace_key_last4 ?? null,
      created_at: a.created_at.toISOString(),
      updated_at: a.updated_at.toISOString(),
    };
  }
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/** Content-addressed, so the URL is stable for a given logo and caches never serve a stale one. */
export function logoUrl(base: string, accountId: number, sha: string, contentType: string): string {
  return `${base.replace(/\/$/, '')}/logos/${accountId}/${sha.slice(0, 16)}.${EXT[contentType] ?? 'img'}`;
}
