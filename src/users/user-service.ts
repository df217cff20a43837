import bcrypt from 'bcrypt';
import { type Sequelize, type Transaction, type WhereOptions } from 'sequelize';
import type { Account, Models, User } from '../db/models/index.js';
import { ForbiddenError, NotFoundError, PreconditionFailedError, RuleError, ConflictError, ValidationError } from '../errors.js';
import { AccessTokens } from '../auth/access-tokens.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { Actor } from '../http/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import { diff } from '../audit/audit-log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { generatePin, generateSipPassword, ha1, sipPasswordWeakness } from '../crypto/sip-credentials.js';
import { keysetPage, prefixMatch, type Page } from '../shared/pagination.js';
import { isAdmin, requireAdmin, requireReader } from '../shared/policy.js';
import { findInAccount } from '../shared/references.js';
import { presentUser, type UserView } from './user-presenter.js';
import type { CreateUserInput, UpdateUserInput } from './user-schemas.js';
import * as rules from './user-rules.js';
import { sipSecretColumns } from './sip-secret-fields.js';
import type { ForwardBehavior } from '../db/models/user.js';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';

/** What a plain `user` may change on its own record. */
const SELF_SERVICE_FIELDS = new Set([
  'mobile',
  'call_timeout',
  'forward_behavior',
  'notification_email',
  'voicemail_email',
  'oncall_remind_minutes',
  'oncall_remind_email',
  'sms_auto_responder_enabled',
  'sms_auto_response_text',
  'password',
  'current_password',
]);

export interface UserServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  secrets: SecretBox;
  bcryptRounds: number;
  /** How long the previous SIP password keeps working after a rotation (0 = not at all). */
  sipPasswordGraceSeconds: number;
  /**
   * Runs inside the update's transaction when oncall_remind_minutes changes,
   * so pending OnCall reminders move with it. A callback rather than an import
   * keeps users independent of oncall (services.ts wires the two).
   */
  onRemindMinutesChanged?: (tx: Transaction, userId: number, minutes: number) => Promise<unknown>;
  /** Queues user.* webhook events in the same transaction as the change. */
  outbox?: WebhookOutbox;
  /**
   * Runs after a user was disabled (committed): removes the user's SIP
   * bindings through the registrations service. The status is committed
   * first, so no phone can register again in between (the registrar re-reads
   * it under the user lock).
   */
  onDisabled?: (actor: Actor, userId: number) => Promise<unknown>;
  /** Wrong current_password answers count as failed sign-ins of the user (and source IP). */
  loginThrottle?: LoginThrottle;
}

export interface ListUsersQuery {
  limit: number;
  cursor?: string | undefined;
  extension?: string | undefined;
  username?: string | undefined;
  name?: string | undefined;
  role?: string | undefined;
  sort: 'id' | 'name' | 'extension';
}

export class UserService {
  constructor(private readonly d: UserServiceDeps) {}

  private get models(): Models {
    return this.d.models;
  }

  async list(actor: Actor, q: ListUsersQuery): Promise<Page<UserView>> {
    requireReader(actor);
    const where: Record<string | symbol, unknown> = { account_id: actor.accountId };
    // A plain user sees only itself: the directory is an admin/viewer tool.
    if (!isAdmin(actor) && actor.role !== 'viewer') where.id = actor.userId ?? -1;
    if (q.extension) where.extension = q.extension;
    if (q.username) where.username = q.username;
    if (q.role) where.role = q.role;
    if (q.name) where.name = prefixMatch(q.name);
    const page = await keysetPage(this.models.User, where as WhereOptions, { sort: q.sort, limit: q.limit, cursor: q.cursor });
    return { data: await this.presentMany(page.data), next_cursor: page.next_cursor };
  }

  async get(actor: Actor, id: number): Promise<{ view: UserView; user: User }> {
    const user = await this.readable(actor, id);
    return { view: await this.present(user), user };
  }

  async create(actor: Actor, input: CreateUserInput): Promise<{ view: UserView; user: User; sipPassword: string; oncallPin: string }> {
    requireAdmin(actor);
    const secrets = await this.newSecrets(input);
    const user = await this.d.sequelize.transaction((tx) => this.insert(actor, input, secrets, tx));
    return { view: await this.present(user), user, sipPassword: secrets.sipPassword, oncallPin: secrets.oncallPin };
  }

  /**
   * Bulk provisioning (imports, the 100k-user benchmark): the same rules and
   * audit entries as create, all users in one transaction (all or none), and
   * the bcrypt work done in parallel on libuv's pool before it opens.
   */
  async createMany(actor: Actor, inputs: CreateUserInput[]): Promise<Array<{ id: number; sipPassword: string; oncallPin: string }>> {
    requireAdmin(actor);
    const secrets = await Promise.all(inputs.map((i) => this.newSecrets(i)));
    return this.d.sequelize.transaction(async (tx) => {
      const out: Array<{ id: number; sipPassword: string; oncallPin: string }> = [];
      for (const [i, input] of inputs.entries()) {
        const s = secrets[i]!;
        const u = await this.insert(actor, input, s, tx);
        out.push({ id: u.id, sipPassword: s.sipPassword, oncallPin: s.oncallPin });
      }
      return out;
    });
  }

  private async newSecrets(input: CreateUserInput): Promise<{ sipPassword: string; oncallPin: string; pinHash: string; passwordHash: string | null }> {
    const sipPassword = generateSipPassword();
    const oncallPin = generatePin();
    const [pinHash, passwordHash] = await Promise.all([
      bcrypt.hash(oncallPin, this.d.bcryptRounds),
      input.password ? bcrypt.hash(input.password, this.d.bcryptRounds) : Promise.resolve(null),
    ]);
    return { sipPassword, oncallPin, pinHash, passwordHash };
  }

  private async insert(
    actor: Actor,
    input: CreateUserInput,
    { sipPassword, pinHash, passwordHash }: { sipPassword: string; pinHash: string; passwordHash: string | null },
    tx: Transaction,
  ): Promise<User> {
    const account = await this.account(actor, tx);
    await this.validate(actor, account, null, input, tx);
    const fb: ForwardBehavior = input.forward_behavior ?? { mode: 'ring_devices', destination: null };
    const u = await this.models.User.create(
      {
        account_id: account.id,
        name: input.name,
        extension: input.extension,
        username: input.username,
        email: input.email ?? null,
        password_hash: passwordHash,
        status: 'active',
        role: input.role ?? 'user',
        max_bindings: input.max_bindings ?? 10,
        binding_policy: input.binding_policy ?? null,
        ...sipSecretColumns(this.d.secrets, input.username, account.sip_domain, sipPassword),
        sip_prev_ha1_md5: null,
        sip_prev_ha1_sha256: null,
        sip_prev_valid_until: null,
        oncall_pin_hash: pinHash,
        external_caller_id_name: input.external_caller_id_name ?? null,
        external_caller_id_number: input.external_caller_id_number ?? null,
        mobile: input.mobile ?? null,
        call_timeout: input.call_timeout ?? 30,
        forward_behavior: { mode: fb.mode, destination: fb.destination ?? null },
        location_id: input.location_id ?? null,
        mailbox_id: null,
        notification_email: input.notification_email ?? null,
        voicemail_email: input.voicemail_email ?? null,
        fax_service_id: input.fax_service_id ?? null,
        oncall_remind_minutes: input.oncall_remind_minutes ?? 15,
        oncall_remind_email: input.oncall_remind_email ?? null,
        outbound_sms_number: input.outbound_sms_number ?? null,
        mobile_signaling: input.mobile_signaling ?? 'auto',
        sms_enabled: input.sms_enabled ?? false,
        sms_auto_responder_enabled: input.sms_auto_responder_enabled ?? false,
        sms_auto_response_text: input.sms_auto_response_text ?? null,
        call_recording: input.call_recording ?? 'none',
        play_recording_announcement: input.play_recording_announcement ?? false,
        otp_required: input.otp_required ?? false,
        otp_secret_enc: null,
        billing_contact: input.billing_contact ?? false,
      },
      { transaction: tx },
    );
    await this.applyMailbox(actor, u, input.mailbox, tx);
    if (input.mailbox_delegations) await this.setDelegations(u, input.mailbox_delegations, tx);
    const view = await this.present(u, tx);
    await this.d.audit.record(tx, actor, { action: 'user.created', targetType: 'user', targetId: u.id, after: view });
    await this.d.outbox?.enqueue(tx, actor.accountId, 'user.created', view);
    return u;
  }

  async update(actor: Actor, id: number, input: UpdateUserInput, ifMatch?: string): Promise<{ view: UserView; user: User }> {
    const self = actor.userId === id && (actor.kind === 'user' || actor.kind === 'api_key');
    if (input.current_password !== undefined && input.password === undefined) {
      throw new ValidationError([
        { field: 'current_password', code: 'current_password_without_password', message: 'Send current_password only with password' },
      ]);
    }
    // A stolen access token must not be enough to take the account over: changing one's own password needs the current one.
    if (input.password !== undefined && self) await this.verifyCurrentPassword(actor, id, input.current_password);
    const passwordHash = input.password ? await bcrypt.hash(input.password, this.d.bcryptRounds) : undefined;
    let disabled = false;
    const user = await this.d.sequelize.transaction(async (tx) => {
      const u = await this.writable(actor, id, Object.keys(input), tx);
      if (ifMatch && ifMatch !== `W/"u${u.id}-v${u.version}"` && ifMatch !== '*') {
        throw new PreconditionFailedError('etag_mismatch', 'The user changed since you read it; GET it again and retry');
      }
      const account = await this.account(actor, tx);
      const before = await this.present(u, tx);
      rules.ownerKeepsRole(u, input.role);
      rules.statusChangeAllowed(actor, u, input.status);
      await this.validate(actor, account, u, input, tx);
      const { mailbox, mailbox_delegations, password, current_password: _current, forward_behavior, ...plain } = input;
      void _current;
      const changes: Partial<User> = { ...(plain as Partial<User>) };
      if (forward_behavior) changes.forward_behavior = { mode: forward_behavior.mode, destination: forward_behavior.destination ?? null };
      if (passwordHash) changes.password_hash = passwordHash;
      const usernameChanged = input.username !== undefined && input.username !== u.username;
      if (usernameChanged) {
        // HA1 hashes the username: re-derive it from the stored password.
        Object.assign(changes, sipSecretColumns(this.d.secrets, input.username!, account.sip_domain, this.d.secrets.decrypt(u.sip_password_enc)));
        changes.sip_prev_ha1_md5 = null;
        changes.sip_prev_ha1_sha256 = null;
        changes.sip_prev_valid_until = null;
      }
      // The previous extension HA1s hash the old extension: a new one has no grace.
      if (usernameChanged || (input.extension !== undefined && input.extension !== u.extension)) {
        changes.sip_prev_ext_ha1_md5 = null;
        changes.sip_prev_ext_ha1_sha256 = null;
      }
      changes.version = u.version + 1;
      await u.update(changes, { transaction: tx });
      if (input.oncall_remind_minutes !== undefined && input.oncall_remind_minutes !== before.oncall_remind_minutes) {
        await this.d.onRemindMinutesChanged?.(tx, u.id, input.oncall_remind_minutes);
      }
      if (mailbox !== undefined) await this.applyMailbox(actor, u, mailbox, tx);
      if (mailbox_delegations !== undefined) await this.setDelegations(u, mailbox_delegations, tx);
      disabled = input.status === 'disabled' && before.status !== 'disabled';
      if ((input.role !== undefined && input.role !== before.role) || disabled) {
        // A new role or a disabled user: every session ends, the caller's own included.
        await AccessTokens.endOthers(this.models, tx, u.id);
      } else if (password || (input.otp_required === false && before.otp_required)) {
        // A password change or dropping the second factor ends every other session; the one making the change stays.
        await AccessTokens.endOthers(this.models, tx, u.id, self ? actor.tokenId : undefined);
      }
      const after = await this.present(u, tx);
      const changed = diff(before, after);
      if (password) changed.after.password = '[changed]';
      const changedFields = Object.keys(changed.after);
      // One entry per mutation; it says whether the user changed their own password or an admin reset it (login_changed_by: a key naming the password would be redacted).
      const audited = password ? { ...changed, after: { ...changed.after, login_changed_by: self ? 'self' : 'admin' } } : changed;
      await this.d.audit.record(tx, actor, { action: 'user.updated', targetType: 'user', targetId: u.id, ...audited });
      await this.d.outbox?.enqueue(tx, actor.accountId, 'user.updated', { user: after, changed: changedFields });
      return u;
    });
    if (disabled) await this.d.onDisabled?.(actor, user.id);
    return { view: await this.present(user), user };
  }

  /**
   * A user without a password (SIP-only, or signed in with an API key) cannot
   * set one on their own: there is nothing to prove, so an admin sets it.
   */
  private async verifyCurrentPassword(actor: Actor, id: number, current: string | undefined): Promise<void> {
    if (current === undefined) {
      throw new RuleError('current_password_required', 'Changing your own password needs your current password in current_password', 'current_password');
    }
    const u = await findInAccount(this.models.User, actor.accountId, id, 'user');
    const ip = actor.sourceIp ?? 'unknown';
    await this.d.loginThrottle?.assertAllowed(u.username, ip);
    if (!u.password_hash || !(await bcrypt.compare(current, u.password_hash))) {
      await this.d.loginThrottle?.recordFailure(u.username, ip);
      throw new ForbiddenError('current_password_incorrect', 'The current password is wrong', 'current_password');
    }
  }

  async remove(actor: Actor, id: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const u = await findInAccount(this.models.User, actor.accountId, id, 'user', tx);
      await this.deleteRecord(actor, u, tx);
    });
  }

  /** Deletes a user inside the caller's transaction (also used when a member is removed or leaves). */
  async deleteRecord(actor: Actor, u: User, tx: Transaction): Promise<void> {
    rules.ownerNotDeleted(u);
    const before = await this.present(u, tx);
    await this.models.Mailbox.update({ owner_user_id: null }, { where: { owner_user_id: u.id }, transaction: tx });
    await this.models.MailboxDelegation.destroy({ where: { user_id: u.id }, transaction: tx });
    await this.models.AccessToken.destroy({ where: { user_id: u.id }, transaction: tx });
    await this.models.ApiKey.destroy({ where: { user_id: u.id }, transaction: tx });
    await u.destroy({ transaction: tx });
    await this.d.audit.record(tx, actor, { action: 'user.deleted', targetType: 'user', targetId: u.id, before });
    await this.d.outbox?.enqueue(tx, actor.accountId, 'user.deleted', before);
  }

  /** Rotates to a generated password, or sets a given one that passes the strength rule. Returns it once. */
  async setSipPassword(actor: Actor, id: number, given?: string): Promise<{ password: string; previousValidUntil: Date | null }> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const u = await findInAccount(this.models.User, actor.accountId, id, 'user', tx);
      if (given !== undefined) {
        const weak = sipPasswordWeakness(given, [u.username, u.extension]);
        if (weak) throw new RuleError('weak_sip_password', `The SIP password ${weak}`, 'password');
      }
      const password = given ?? generateSipPassword();
      const account = await this.account(actor, tx);
      const grace = this.d.sipPasswordGraceSeconds;
      const previousValidUntil = grace > 0 ? new Date(Date.now() + grace * 1000) : null;
      // Phones may authenticate with the extension: keep its previous HA1s for the grace window too.
      const previousPassword = previousValidUntil ? this.d.secrets.decrypt(u.sip_password_enc) : null;
      await u.update(
        {
          ...sipSecretColumns(this.d.secrets, u.username, account.sip_domain, password),
          sip_prev_ext_ha1_md5: previousPassword === null ? null : ha1('md5', u.extension, account.sip_domain, previousPassword),
          sip_prev_ext_ha1_sha256: previousPassword === null ? null : ha1('sha256', u.extension, account.sip_domain, previousPassword),
          sip_prev_ha1_md5: previousValidUntil ? u.sip_ha1_md5 : null,
          sip_prev_ha1_sha256: previousValidUntil ? u.sip_ha1_sha256 : null,
          sip_prev_valid_until: previousValidUntil,
          version: u.version + 1,
        },
        { transaction: tx },
      );
      await this.d.audit.record(tx, actor, {
        action: 'user.sip_password_changed',
        targetType: 'user',
        targetId: u.id,
        after: { generated: given === undefined, previous_valid_until: previousValidUntil?.toISOString() ?? null },
      });
      return { password, previousValidUntil };
    });
  }

  async revealSipPassword(actor: Actor, id: number): Promise<string> {
    requireAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const u = await findInAccount(this.models.User, actor.accountId, id, 'user', tx);
      await this.d.audit.record(tx, actor, { action: 'user.sip_password_revealed', targetType: 'user', targetId: u.id });
      return this.d.secrets.decrypt(u.sip_password_enc);
    });
  }

  async resetOncallPin(actor: Actor, id: number): Promise<string> {
    requireAdmin(actor);
    const pin = generatePin();
    const hash = await bcrypt.hash(pin, this.d.bcryptRounds);
    await this.d.sequelize.transaction(async (tx) => {
      const u = await findInAccount(this.models.User, actor.accountId, id, 'user', tx);
      await u.update({ oncall_pin_hash: hash, version: u.version + 1 }, { transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'user.oncall_pin_reset', targetType: 'user', targetId: u.id });
    });
    return pin;
  }

  /** Enrols a new TOTP authenticator; the seed is returned once. Admins for anyone, users for themselves. */
  async enrollOtp(actor: Actor, id: number, seedBase32: string): Promise<User> {
    if (!isAdmin(actor) && actor.userId !== id) throw new ForbiddenError('admin_required', 'Only an admin can enrol an authenticator for another user');
    return this.d.sequelize.transaction(async (tx) => {
      const u = await findInAccount(this.models.User, actor.accountId, id, 'user', tx);
      await u.update({ otp_secret_enc: this.d.secrets.encrypt(seedBase32), version: u.version + 1 }, { transaction: tx });
      // A new authenticator ends every other session: whoever held one without the new seed is out.
      await AccessTokens.endOthers(this.models, tx, u.id, actor.userId === u.id ? actor.tokenId : undefined);
      await this.d.audit.record(tx, actor, { action: 'user.otp_enrolled', targetType: 'user', targetId: u.id });
      return u;
    });
  }

  // ---- helpers -------------------------------------------------------------

  private async account(actor: Actor, tx?: Transaction): Promise<Account> {
    const a = await this.models.Account.findByPk(actor.accountId, { transaction: tx });
    if (!a) throw new NotFoundError('account', actor.accountId);
    return a;
  }

  private async readable(actor: Actor, id: number, tx?: Transaction): Promise<User> {
    requireReader(actor);
    if (!isAdmin(actor) && actor.role !== 'viewer' && actor.userId !== id) throw new NotFoundError('user', id);
    return findInAccount(this.models.User, actor.accountId, id, 'user', tx);
  }

  private async writable(actor: Actor, id: number, fields: string[], tx: Transaction): Promise<User> {
    if (!isAdmin(actor)) {
      if (actor.role !== 'user' || actor.userId !== id) requireAdmin(actor);
      const denied = fields.find((f) => !SELF_SERVICE_FIELDS.has(f));
      if (denied) throw new ForbiddenError('field_not_self_service', `Only an admin can change ${denied}`, denied);
    }
    return findInAccount(this.models.User, actor.accountId, id, 'user', tx);
  }

  private async validate(actor: Actor, account: Account, existing: User | null, input: UpdateUserInput, tx: Transaction): Promise<void> {
    const m = this.models;
    if (input.extension !== undefined && input.extension !== existing?.extension) {
      rules.extensionFitsAccount(account, input.extension);
      await rules.extensionFree(m, account.id, input.extension, existing?.id ?? null, tx);
    }
    if (input.username !== undefined && input.username !== existing?.username) {
      rules.usernameNotNumeric(input.username);
      await rules.usernameFree(m, input.username, existing?.id ?? null, tx);
    }
    if (input.external_caller_id_number) await rules.numberOfAccount(m, account.id, input.external_caller_id_number, 'external_caller_id_number', false, tx);
    if (input.outbound_sms_number) await rules.numberOfAccount(m, account.id, input.outbound_sms_number, 'outbound_sms_number', true, tx);
    if (input.forward_behavior) rules.forwardBehaviorComplete(input.forward_behavior);
    const responder = input.sms_auto_responder_enabled ?? existing?.sms_auto_responder_enabled ?? false;
    const text = input.sms_auto_response_text !== undefined ? input.sms_auto_response_text : existing?.sms_auto_response_text;
    rules.autoResponderHasText(Boolean(responder), text);
    await rules.referencesExist(m, account.id, input, tx);
    if (typeof input.mailbox === 'number') await findMailbox(m, account.id, input.mailbox, tx);
    void actor;
  }

  private async applyMailbox(actor: Actor, u: User, choice: 'self' | 'none' | number | undefined, tx: Transaction): Promise<void> {
    if (choice === undefined) return;
    let mailboxId: number | null = null;
    if (choice === 'self') {
      let own = await this.models.Mailbox.findOne({ where: { account_id: u.account_id, owner_user_id: u.id }, order: [['id', 'ASC']], transaction: tx });
      if (!own) {
        const clash = await this.models.Mailbox.findOne({ where: { account_id: u.account_id, number: u.extension }, transaction: tx });
        if (clash)
          throw new ConflictError('mailbox_number_taken', `Mailbox ${u.extension} already exists (id ${clash.id}); assign it by id instead`, 'mailbox');
        own = await this.models.Mailbox.create(
          { account_id: u.account_id, number: u.extension, name: u.name, pin_hash: null, owner_user_id: u.id },
          { transaction: tx },
        );
        await this.d.audit.record(tx, actor, {
          action: 'mailbox.created',
          targetType: 'mailbox',
          targetId: own.id,
          after: { number: own.number, name: own.name, owner_user_id: u.id },
        });
      }
      mailboxId = own.id;
    } else if (typeof choice === 'number') {
      mailboxId = (await findMailbox(this.models, u.account_id, choice, tx)).id;
    }
    await u.update({ mailbox_id: mailboxId }, { transaction: tx });
  }

  private async setDelegations(u: User, mailboxIds: number[], tx: Transaction): Promise<void> {
    await this.models.MailboxDelegation.destroy({ where: { user_id: u.id }, transaction: tx });
    const unique = [...new Set(mailboxIds)];
    if (unique.length)
      await this.models.MailboxDelegation.bulkCreate(
        unique.map((mailbox_id) => ({ mailbox_id, user_id: u.id })),
        { transaction: tx },
      );
  }

  async present(u: User, tx?: Transaction): Promise<UserView> {
    const [mailbox, delegations] = await Promise.all([
      u.mailbox_id ? this.models.Mailbox.findByPk(u.mailbox_id, { transaction: tx }) : Promise.resolve(null),
      this.models.MailboxDelegation.findAll({ where: { user_id: u.id }, attributes: ['mailbox_id'], transaction: tx }),
    ]);
    return presentUser(
      u,
      mailbox,
      delegations.map((d) => d.mailbox_id),
    );
  }

  private async presentMany(users: User[]): Promise<UserView[]> {
    if (!users.length) return [];
    const mailboxIds = [...new Set(users.map((u) => u.mailbox_id).filter((x): x is number => x !== null))];
    const [mailboxes, delegations] = await Promise.all([
      mailboxIds.length ? this.models.Mailbox.findAll({ where: { id: mailboxIds } }) : Promise.resolve([]),
      this.models.MailboxDelegation.findAll({ where: { user_id: users.map((u) => u.id) } }),
    ]);
    const byId = new Map(mailboxes.map((m) => [m.id, m]));
    return users.map((u) =>
      presentUser(
        u,
        u.mailbox_id ? (byId.get(u.mailbox_id) ?? null) : null,
        delegations.filter((d) => d.user_id === u.id).map((d) => d.mailbox_id),
      ),
    );
  }
}

async function findMailbox(models: Models, accountId: number, id: number, tx: Transaction) {
  const mb = await models.Mailbox.findOne({ where: { id, account_id: accountId }, transaction: tx });
  if (!mb) throw new RuleError('unknown_mailbox', `mailbox: no mailbox ${id} in this account`, 'mailbox');
  return mb;
}
