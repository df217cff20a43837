import bcrypt from 'bcrypt';
import type { Sequelize, Transaction, WhereOptions } from 'sequelize';
import type { Mailbox, Models } from '../db/models/index.js';
import type { Actor } from '../http/actor.js';
import { NotFoundError } from '../errors.js';
import { diff, type AuditLog } from '../audit/audit-log.js';
import { keysetPage, prefixMatch, type Page } from '../shared/pagination.js';
import { requireAdmin, requireReader } from '../shared/policy.js';
import { findInAccount } from '../shared/references.js';
import { assertNotReferenced } from '../shared/in-use.js';
import { presentMailbox, type MailboxView } from './mailbox-presenter.js';
import type { CreateMailboxInput, MailboxListInput, UpdateMailboxInput } from './mailbox-schemas.js';
import * as rules from './mailbox-rules.js';
import { definedFields } from '../shared/defined-fields.js';

export interface MailboxServiceDeps {
  sequelize: Sequelize;
  models: Models;
  audit: AuditLog;
  bcryptRounds: number;
}

/** Voicemail boxes and their delegations to users. */
export class MailboxService {
  constructor(private readonly d: MailboxServiceDeps) {}

  private get models(): Models {
    return this.d.models;
  }

  async list(actor: Actor, q: MailboxListInput): Promise<Page<MailboxView>> {
    requireReader(actor);
    const where: Record<string, unknown> = { account_id: actor.accountId };
    if (q.number) where.number = q.number;
    if (q.name) where.name = prefixMatch(q.name);
    if (q.owner_user_id) where.owner_user_id = q.owner_user_id;
    const page = await keysetPage(this.models.Mailbox, where as WhereOptions, { sort: 'id', limit: q.limit, cursor: q.cursor });
    const delegations = page.data.length
      ? await this.models.MailboxDelegation.findAll({ where: { mailbox_id: page.data.map((m) => m.id) }, attributes: ['mailbox_id', 'user_id'] })
      : [];
    return {
      data: page.data.map((m) =>
        presentMailbox(
          m,
          delegations.filter((x) => x.mailbox_id === m.id).map((x) => x.user_id),
        ),
      ),
      next_cursor: page.next_cursor,
    };
  }

  async get(actor: Actor, id: number): Promise<MailboxView> {
    requireReader(actor);
    return this.present(await findInAccount(this.models.Mailbox, actor.accountId, id, 'mailbox'));
  }

  async create(actor: Actor, input: CreateMailboxInput): Promise<MailboxView> {
    requireAdmin(actor);
    const pinHash = input.pin ? await bcrypt.hash(input.pin, this.d.bcryptRounds) : null;
    return this.d.sequelize.transaction(async (tx) => {
      await rules.numberFreeInAccount(this.models, actor.accountId, input.number, null, tx);
      await rules.usersOfAccount(this.models, actor.accountId, input, tx);
      const m = await this.models.Mailbox.create(
        {
          account_id: actor.accountId,
          number: input.number,
          name: input.name,
          pin_hash: pinHash,
          owner_user_id: input.owner_user_id ?? null,
          new_messages: 0,
          old_messages: 0,
        },
        { transaction: tx },
      );
      if (input.delegates) await this.setDelegates(m, input.delegates, tx);
      const view = await this.present(m, tx);
      await this.d.audit.record(tx, actor, { action: 'mailbox.created', targetType: 'mailbox', targetId: m.id, after: view });
      return view;
    });
  }

  async update(actor: Actor, id: number, input: UpdateMailboxInput): Promise<MailboxView> {
    requireAdmin(actor);
    const pinHash = input.pin ? await bcrypt.hash(input.pin, this.d.bcryptRounds) : input.pin;
    return this.d.sequelize.transaction(async (tx) => {
      const m = await findInAccount(this.models.Mailbox, actor.accountId, id, 'mailbox', tx);
      const before = await this.present(m, tx);
      if (input.number !== undefined && input.number !== m.number) await rules.numberFreeInAccount(this.models, actor.accountId, input.number, m.id, tx);
      await rules.usersOfAccount(this.models, actor.accountId, input, tx);
      await m.update(
        {
          ...definedFields(input, ['number', 'name', 'owner_user_id']),
          ...(pinHash !== undefined ? { pin_hash: pinHash } : {}),
        },
        { transaction: tx },
      );
      if (input.delegates !== undefined) await this.setDelegates(m, input.delegates, tx);
      const after = await this.present(m, tx);
      const changed = diff(before, after);
      // A new PIN of the same "has_pin" state would otherwise leave no trace.
      if (input.pin !== undefined) changed.after.pin = '[changed]';
      await this.d.audit.record(tx, actor, { action: 'mailbox.updated', targetType: 'mailbox', targetId: m.id, ...changed });
      return after;
    });
  }

  async remove(actor: Actor, id: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const m = await findInAccount(this.models.Mailbox, actor.accountId, id, 'mailbox', tx);
      assertNotReferenced('mailbox', m.id, await rules.mailboxReferences(this.models, m, tx));
      const before = await this.present(m, tx);
      await m.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'mailbox.deleted', targetType: 'mailbox', targetId: id, before });
    });
  }

  /** PUT /v1/users/{id}/mailbox-delegations/{mailboxId}: idempotent; audited only when it changes something. */
  async delegate(actor: Actor, userId: number, mailboxId: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      await findInAccount(this.models.User, actor.accountId, userId, 'user', tx);
      await findInAccount(this.models.Mailbox, actor.accountId, mailboxId, 'mailbox', tx);
      const existing = await this.models.MailboxDelegation.findOne({ where: { user_id: userId, mailbox_id: mailboxId }, transaction: tx });
      if (existing) return;
      await this.models.MailboxDelegation.create({ user_id: userId, mailbox_id: mailboxId }, { transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'user.mailbox_delegation_added', targetType: 'user', targetId: userId, after: { mailbox_id: mailboxId } });
    });
  }

  /** DELETE /v1/users/{id}/mailbox-delegations/{mailboxId}: 404 when the mailbox is not delegated to the user. */
  async undelegate(actor: Actor, userId: number, mailboxId: number): Promise<void> {
    requireAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      await findInAccount(this.models.User, actor.accountId, userId, 'user', tx);
      await findInAccount(this.models.Mailbox, actor.accountId, mailboxId, 'mailbox', tx);
      const removed = await this.models.MailboxDelegation.destroy({ where: { user_id: userId, mailbox_id: mailboxId }, transaction: tx });
      if (!removed) throw new NotFoundError('mailbox_delegation', mailboxId);
      await this.d.audit.record(tx, actor, {
        action: 'user.mailbox_delegation_removed',
        targetType: 'user',
        targetId: userId,
        before: { mailbox_id: mailboxId },
      });
    });
  }

  private async setDelegates(m: Mailbox, userIds: number[], tx: Transaction): Promise<void> {
    await this.models.MailboxDelegation.destroy({ where: { mailbox_id: m.id }, transaction: tx });
    const unique = [...new Set(userIds)];
    if (unique.length)
      await this.models.MailboxDelegation.bulkCreate(
        unique.map((user_id) => ({ mailbox_id: m.id, user_id })),
        { transaction: tx },
      );
  }

  private async present(m: Mailbox, tx?: Transaction): Promise<MailboxView> {
    const delegations = await this.models.MailboxDelegation.findAll({ where: { mailbox_id: m.id }, attributes: ['user_id'], transaction: tx });
    return presentMailbox(
      m,
      delegations.map((x) => x.user_id),
    );
  }
}
