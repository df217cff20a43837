import bcrypt from 'bcrypt';
import crypto from 'node:crypto';
import { Op, type Sequelize, type Transaction } from 'sequelize';
import type { Account, MemberInvitation, Models, User } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { ConflictError, ForbiddenError, NotFoundError, RuleError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { sha256Hex } from '../crypto/tokens.js';
import { generatePin, generateSipPassword } from '../crypto/sip-credentials.js';
import { sipSecretColumns } from '../users/sip-secret-fields.js';
import { keysetPage, type Page, type PageRequest } from '../shared/pagination.js';
import { findInAccount } from '../shared/references.js';
import { isAdmin } from '../shared/policy.js';
import { requireAccountAdmin, requireOwner } from '../accounts/account-policy.js';
import type { UserService } from '../users/user-service.js';
import type { WebhookOutbox } from '../webhooks/webhook-outbox.js';
import type { Mailer } from '../mail/mailer.js';
import type { Clock } from '../shared/clock.js';
import { AccessTokens, type IssuedToken } from '../auth/access-tokens.js';
import { presentApiKey } from '../api-keys/api-key-service.js';
import { presentInvitation, presentMember, type MemberView } from './member-presenter.js';
import * as rules from './member-rules.js';
import { unsetUserFields } from '../users/unset-user-fields.js';

export type InviteRole = 'admin' | 'viewer' | 'user';

export interface MemberServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  secrets: SecretBox;
  users: UserService;
  outbox: WebhookOutbox;
  mailer: Mailer;
  accessTokens: AccessTokens;
  now: Clock;
  bcryptRounds: number;
  publicUrl: string;
  invitationTtlHours: number;
}

/**
 * Members are the account's users. An invitation lives in its own table until
 * it is accepted: a users row needs a username, an extension and SIP secrets,
 * which would be placeholders (and a registrable account) for someone who may
 * never accept. On accept the user is created with an automatic extension and
 * a username derived from the email.
 */
export class MemberService {
  constructor(private readonly d: MemberServiceDeps) {}

  async list(actor: Actor, q: { limit: number; cursor?: string | undefined }): Promise<Page<MemberView>> {
    this.requireMemberReader(actor);
    const page = await keysetPage(
      this.d.models.User,
      { account_id: actor.accountId, role: { [Op.ne]: 'fax' }, member_removed_at: null },
      { sort: 'id', limit: q.limit, cursor: q.cursor },
    );
    const data = page.data.map(presentMember);
    // Pending invitations are few; they lead the first page so one call shows the whole table.
    if (!q.cursor) data.unshift(...(await this.pendingInvitations(actor.accountId)).map(presentInvitation));
    return { data, next_cursor: page.next_cursor };
  }

  async listInvitations(actor: Actor, q: PageRequest): Promise<Page<MemberView>> {
    this.requireMemberReader(actor);
    const page = await keysetPage(this.d.models.MemberInvitation, { account_id: actor.accountId, status: 'pending' }, { sort: 'id', ...q });
    return { data: page.data.map(presentInvitation), next_cursor: page.next_cursor };
  }

  async invite(actor: Actor, input: { email: string; role: InviteRole }): Promise<{ view: MemberView; emailSent: boolean }> {
    requireAccountAdmin(actor);
    const email = input.email.trim().toLowerCase();
    const token = newInvitationToken();
    const { invitation, account } = await this.d.sequelize.transaction(async (tx) => {
      const account = await this.account(actor.accountId, tx);
      // A removed member's PBX user keeps its email; inviting them again is how they come back.
      if (await this.d.models.User.findOne({ where: { account_id: account.id, email, member_removed_at: null }, attributes: ['id'], transaction: tx })) {
        throw new ConflictError('already_member', `${email} is already a member of this workspace`, 'email');
      }
      const now = this.d.now();
      const pending = await this.d.models.MemberInvitation.findOne({ where: { account_id: account.id, email, status: 'pending' }, transaction: tx });
      if (pending && pending.expires_at > now) {
        throw new ConflictError('already_invited', `${email} already has a pending invitation (id ${pending.id}); resend it instead`, 'email');
      }
      if (pending) await pending.update({ status: 'revoked' }, { transaction: tx });
      const inv = await this.d.models.MemberInvitation.create(
        {
          account_id: account.id,
          email,
          role: input.role,
          token_hash: sha256Hex(token),
          status: 'pending',
          expires_at: this.expiry(),
          invited_by: actor.actorId,
          user_id: null,
        },
        { transaction: tx },
      );
      await this.d.audit.record(tx, actor, {
        action: 'member.invited',
        targetType: 'invitation',
        targetId: inv.id,
        after: { email, role: input.role, expires_at: inv.expires_at.toISOString() },
      });
      await this.d.outbox.enqueue(tx, account.id, 'member.invited', {
        invitation_id: inv.id,
        email,
        role: input.role,
        expires_at: inv.expires_at.toISOString(),
      });
      return { invitation: inv, account };
    });
    // Mailed after the commit: the invitation must exist before anyone can click the link.
    const emailSent = await this.mailInvitation(account, invitation, token);
    return { view: presentInvitation(invitation), emailSent };
  }

  /** A new token (the old link dies) and a new expiry, mailed again. */
  async resend(actor: Actor, invitationId: number): Promise<{ view: MemberView; emailSent: boolean }> {
    requireAccountAdmin(actor);
    const token = newInvitationToken();
    const { invitation, account } = await this.d.sequelize.transaction(async (tx) => {
      const inv = await this.pendingInvitation(actor.accountId, invitationId, tx);
      await inv.update({ token_hash: sha256Hex(token), expires_at: this.expiry() }, { transaction: tx });
      await this.d.audit.record(tx, actor, {
        action: 'member.invitation_resent',
        targetType: 'invitation',
        targetId: inv.id,
        after: { email: inv.email, expires_at: inv.expires_at.toISOString() },
      });
      return { invitation: inv, account: await this.account(actor.accountId, tx) };
    });
    const emailSent = await this.mailInvitation(account, invitation, token);
    return { view: presentInvitation(invitation), emailSent };
  }

  async revokeInvitation(actor: Actor, invitationId: number): Promise<void> {
    requireAccountAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const inv = await this.pendingInvitation(actor.accountId, invitationId, tx);
      await inv.update({ status: 'revoked' }, { transaction: tx });
      await this.d.audit.record(tx, actor, {
        action: 'member.invitation_revoked',
        targetType: 'invitation',
        targetId: inv.id,
        before: { email: inv.email, role: inv.role },
      });
    });
  }

  /**
   * Single use: the invitation moves from pending to accepted with a guarded
   * UPDATE, so two concurrent accepts (even on two processes) create one user.
   */
  async accept(
    token: string,
    input: { name: string; password: string },
  ): Promise<{ member: MemberView; username: string; extension: string; token: IssuedToken }> {
    rules.passwordStrongEnough(input.password);
    const inv = await this.d.models.MemberInvitation.findOne({ where: { token_hash: sha256Hex(token) } });
    if (!inv || inv.status !== 'pending') throw new NotFoundError('invitation', 'in this link');
    if (inv.expires_at <= this.d.now()) throw new RuleError('invitation_expired', 'This invitation has expired; ask an admin of the workspace to resend it');
    const [passwordHash, pinHash] = await Promise.all([bcrypt.hash(input.password, this.d.bcryptRounds), bcrypt.hash(generatePin(), this.d.bcryptRounds)]);
    const sipPassword = generateSipPassword();
    const user = await this.d.sequelize.transaction(async (tx) => {
      const [claimed] = await this.d.models.MemberInvitation.update({ status: 'accepted' }, { where: { id: inv.id, status: 'pending' }, transaction: tx });
      if (claimed !== 1) throw new NotFoundError('invitation', 'in this link');
      const account = await this.account(inv.account_id, tx);
      const existing = await this.d.models.User.findOne({ where: { account_id: account.id, email: inv.email }, transaction: tx });
      if (existing && existing.member_removed_at === null) {
        throw new ConflictError('already_member', `${inv.email} is already a member of this workspace`, 'email');
      }
      if (existing) return this.rejoin(existing, inv, input.name, passwordHash, tx);
      const username = await rules.usernameFromEmail(this.d.models, inv.email, account.sip_domain, tx);
      const extension = await rules.nextFreeExtension(this.d.models, account, tx);
      const u = await this.d.models.User.create(
        {
          account_id: account.id,
          name: input.name,
          extension,
          username,
          email: inv.email,
          password_hash: passwordHash,
          status: 'active',
          role: inv.role,
          ...sipSecretColumns(this.d.secrets, username, account.sip_domain, sipPassword),
          oncall_pin_hash: pinHash,
          ...unsetUserFields(),
        },
        { transaction: tx },
      );
      await inv.update({ user_id: u.id }, { transaction: tx });
      const actor: Actor = { accountId: account.id, userId: u.id, role: u.role, kind: 'user', actorId: `user:${u.id}`, sourceIp: null };
      const view = await this.d.users.present(u, tx);
      await this.d.audit.record(tx, actor, { action: 'member.joined', targetType: 'user', targetId: u.id, after: { ...view, invitation_id: inv.id } });
      await this.d.outbox.enqueue(tx, account.id, 'member.joined', { member: presentMember(u), invitation_id: inv.id });
      await this.d.outbox.enqueue(tx, account.id, 'user.created', view);
      return u;
    });
    return { member: presentMember(user), username: user.username, extension: user.extension, token: await this.d.accessTokens.issue(user, 'invitation') };
  }

  /**
   * Removing a member ends their access (sign-in, tokens, API keys) in one
   * transaction; their PBX user (extension, mailbox, phones) stays unless the
   * admin also asks for it to be deleted: the person leaves the workspace,
   * the desk phone they used may not.
   */
  async remove(actor: Actor, userId: number, opts: { deleteUser?: boolean } = {}): Promise<void> {
    requireAccountAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const u = await this.activeMember(actor.accountId, userId, tx);
      rules.ownerNotRemoved(u);
      const before = presentMember(u);
      if (opts.deleteUser) await this.d.users.deleteRecord(actor, u, tx);
      else await this.endAccess(actor, u, tx);
      await this.d.audit.record(tx, actor, {
        action: 'member.removed',
        targetType: 'user',
        targetId: u.id,
        before,
        after: { user_deleted: Boolean(opts.deleteUser) },
      });
      await this.d.outbox.enqueue(tx, actor.accountId, 'member.removed', { member: before, reason: 'removed', user_deleted: Boolean(opts.deleteUser) });
    });
  }

  async leave(actor: Actor): Promise<void> {
    if (actor.userId === null) throw new RuleError('user_credential_required', "Leaving needs a member's own access token, not the workspace key");
    await this.d.sequelize.transaction(async (tx) => {
      const u = await this.activeMember(actor.accountId, actor.userId!, tx);
      rules.ownerCannotLeave(u);
      const before = presentMember(u);
      await this.endAccess(actor, u, tx);
      await this.d.audit.record(tx, actor, { action: 'member.left', targetType: 'user', targetId: u.id, before, after: { user_deleted: false } });
      await this.d.outbox.enqueue(tx, actor.accountId, 'member.removed', { member: before, reason: 'left', user_deleted: false });
    });
  }

  /** Another role from the members page: the same change (rules, audit, user.updated, tokens ended) as PATCH /v1/users/{id}. */
  async changeRole(actor: Actor, userId: number, role: InviteRole): Promise<MemberView> {
    requireAccountAdmin(actor);
    await this.activeMember(actor.accountId, userId);
    const { user } = await this.d.users.update(actor, userId, { role });
    return presentMember(user);
  }

  async changeInvitationRole(actor: Actor, invitationId: number, role: InviteRole): Promise<MemberView> {
    requireAccountAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const inv = await this.pendingInvitation(actor.accountId, invitationId, tx);
      const before = inv.role;
      await inv.update({ role }, { transaction: tx });
      await this.d.audit.record(tx, actor, {
        action: 'member.invitation_updated',
        targetType: 'invitation',
        targetId: inv.id,
        before: { role: before },
        after: { role },
      });
      return presentInvitation(inv);
    });
  }

  /** Sign-in, tokens and API keys end; the user becomes a plain PBX user (role user) that no one signs in as. */
  private async endAccess(actor: Actor, u: User, tx: Transaction): Promise<void> {
    const now = this.d.now();
    await u.update(
      { member_removed_at: now, password_hash: null, otp_secret_enc: null, otp_required: false, role: 'user', version: u.version + 1 },
      { transaction: tx },
    );
    await AccessTokens.endOthers(this.d.models, tx, u.id);
    const keys = await this.d.models.ApiKey.findAll({ where: { user_id: u.id, revoked_at: null }, transaction: tx });
    for (const k of keys) {
      await k.update({ revoked_at: now }, { transaction: tx });
      await this.d.audit.record(tx, actor, {
        action: 'api_key.revoked',
        targetType: 'api_key',
        targetId: k.token,
        before: { name: k.name, user_id: k.user_id },
      });
      await this.d.outbox.enqueue(tx, actor.accountId, 'api_key.revoked', presentApiKey(k));
    }
  }

  /** A removed member accepts a new invitation: their kept PBX user gets access again, with the invitation's role. */
  private async rejoin(u: User, inv: MemberInvitation, name: string, passwordHash: string, tx: Transaction): Promise<User> {
    await u.update({ name, password_hash: passwordHash, role: inv.role, member_removed_at: null, version: u.version + 1 }, { transaction: tx });
    await inv.update({ user_id: u.id }, { transaction: tx });
    const actor: Actor = { accountId: u.account_id, userId: u.id, role: u.role, kind: 'user', actorId: `user:${u.id}`, sourceIp: null };
    await this.d.audit.record(tx, actor, {
      action: 'member.joined',
      targetType: 'user',
      targetId: u.id,
      after: { role: inv.role, invitation_id: inv.id, rejoined: true },
    });
    await this.d.outbox.enqueue(tx, u.account_id, 'member.joined', { member: presentMember(u), invitation_id: inv.id });
    return u;
  }

  private async activeMember(accountId: number, userId: number, tx?: Transaction): Promise<User> {
    const u = await findInAccount(this.d.models.User, accountId, userId, 'member', tx);
    if (u.member_removed_at !== null || u.role === 'fax') throw new NotFoundError('member', userId);
    return u;
  }

  /** The owner hands ownership to an active admin and becomes an admin. */
  async transferOwnership(actor: Actor, targetId: number): Promise<{ previous_owner_id: number; owner_id: number }> {
    requireOwner(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const owner = await findInAccount(this.d.models.User, actor.accountId, actor.userId ?? -1, 'member', tx);
      if (owner.role !== 'owner') throw new ForbiddenError('owner_required', 'Only the workspace owner can transfer ownership');
      const target = await findInAccount(this.d.models.User, actor.accountId, targetId, 'member', tx);
      rules.transferTargetIsActiveAdmin(target, owner.id);
      // Demote first: the account has exactly one owner at every commit.
      await owner.update({ role: 'admin', version: owner.version + 1 }, { transaction: tx });
      await target.update({ role: 'owner', version: target.version + 1 }, { transaction: tx });
      // Like any demotion: a session opened as owner must not outlive the ownership (the new owner's sessions only gain).
      await AccessTokens.endOthers(this.d.models, tx, owner.id);
      const change = { previous_owner_id: owner.id, owner_id: target.id };
      await this.d.audit.record(tx, actor, {
        action: 'account.owner_transferred',
        targetType: 'account',
        targetId: actor.accountId,
        before: { owner_user_id: owner.id },
        after: { owner_user_id: target.id },
      });
      await this.d.outbox.enqueue(tx, actor.accountId, 'account.owner_transferred', change);
      return change;
    });
  }

  // ---- helpers -------------------------------------------------------------

  private requireMemberReader(actor: Actor): void {
    if (!isAdmin(actor) && actor.role !== 'viewer') throw new ForbiddenError('admin_required', 'Only admins and viewers can see the member list');
  }

  private pendingInvitations(accountId: number): Promise<MemberInvitation[]> {
    return this.d.models.MemberInvitation.findAll({ where: { account_id: accountId, status: 'pending' }, order: [['id', 'ASC']], limit: 500 });
  }

  private async pendingInvitation(accountId: number, id: number, tx: Transaction): Promise<MemberInvitation> {
    const inv = await findInAccount(this.d.models.MemberInvitation, accountId, id, 'invitation', tx);
    if (inv.status !== 'pending') throw new ConflictError('invitation_not_pending', `Invitation ${id} was already ${inv.status}`);
    return inv;
  }

  private async account(id: number, tx: Transaction): Promise<Account> {
    const a = await this.d.models.Account.findByPk(id, { transaction: tx });
    if (!a) throw new NotFoundError('account', id);
    return a;
  }

  private expiry(): Date {
    return new Date(this.d.now().getTime() + this.d.invitationTtlHours * 3_600_000);
  }

  private mailInvitation(account: Account, inv: MemberInvitation, token: string): Promise<boolean> {
    const base = this.d.publicUrl.replace(/\/$/, '');
    return this.d.mailer.send({
      to: inv.email,
      subject: `You are invited to ${account.name} on Switchboard`,
      text: [
        `You have been invited to join the workspace "${account.name}" as ${inv.role}.`,
        '',
        `Accept the invitation: ${base}/invitations/${token}`,
        `(or POST {"name","password"} to ${base}/v1/invitations/${token}/accept)`,
        '',
        `The link works once and expires at ${inv.expires_at.toISOString()}.`,
        'If you did not expect this, ignore this email.',
      ].join('\n'),
    });
  }
}

function newInvitationToken(): string {
  return `sbinv_${crypto.randomBytes(32).toString('base64url')}`;
}
