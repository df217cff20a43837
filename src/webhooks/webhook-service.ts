import crypto from 'node:crypto';
import type { Sequelize } from 'sequelize';
import type { Models, Webhook } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { diff } from '../audit/audit-log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { NotFoundError, RuleError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { findInAccount } from '../shared/references.js';
import { keysetPage, type Page, type PageRequest } from '../shared/pagination.js';
import { isAdmin } from '../shared/policy.js';
import { ForbiddenError } from '../errors.js';
import { requireAccountAdmin } from '../accounts/account-policy.js';
import type { Clock } from '../shared/clock.js';
import { assertAllowedTarget } from './ssrf-guard.js';
import { buildEnvelope } from './webhook-outbox.js';
import { PING_EVENT } from './webhook-events.js';
import type { WebhookDeliveryJob } from './webhook-delivery-job.js';
import { presentDelivery, presentWebhook, type DeliveryView, type WebhookView } from './webhook-presenter.js';

export interface WebhookInput {
  url: string;
  events: string[];
  description?: string | null | undefined;
  active?: boolean | undefined;
}

const MAX_WEBHOOKS_PER_ACCOUNT = 50;

export class WebhookService {
  constructor(
    private readonly d: {
      sequelize: Sequelize;
      models: Models;
      audit: AuditLog;
      secrets: SecretBox;
      job: WebhookDeliveryJob;
      now: Clock;
      allowLoopbackTargets: boolean;
      allowPrivateTargets: boolean;
      lookup?: (host: string) => Promise<string[]>;
    },
  ) {}

  async list(actor: Actor, q: PageRequest): Promise<Page<WebhookView>> {
    this.requireReader(actor);
    const page = await keysetPage(this.d.models.Webhook, { account_id: actor.accountId }, { sort: 'id', ...q });
    return { data: page.data.map(presentWebhook), next_cursor: page.next_cursor };
  }

  async get(actor: Actor, id: number): Promise<WebhookView> {
    this.requireReader(actor);
    return presentWebhook(await findInAccount(this.d.models.Webhook, actor.accountId, id, 'webhook'));
  }

  /** Returns the signing secret once. */
  async create(actor: Actor, input: WebhookInput): Promise<{ view: WebhookView; secret: string }> {
    requireAccountAdmin(actor);
    await this.checkTarget(input.url);
    const secret = newSecret();
    const hook = await this.d.sequelize.transaction(async (tx) => {
      const count = await this.d.models.Webhook.count({ where: { account_id: actor.accountId }, transaction: tx });
      if (count >= MAX_WEBHOOKS_PER_ACCOUNT) throw new RuleError('too_many_webhooks', `An account can have at most ${MAX_WEBHOOKS_PER_ACCOUNT} webhooks`);
      const w = await this.d.models.Webhook.create(
        {
          account_id: actor.accountId,
          url: input.url,
          events: [...new Set(input.events)],
          description: input.description ?? null,
          active: input.active ?? true,
          secret_enc: this.d.secrets.encrypt(secret),
          failing_since: null,
          disabled_reason: null,
        },
        { transaction: tx },
      );
      await this.d.audit.record(tx, actor, { action: 'webhook.created', targetType: 'webhook', targetId: w.id, after: presentWebhook(w) });
      return w;
    });
    return { view: presentWebhook(hook), secret };
  }

  async update(actor: Actor, id: number, input: Partial<WebhookInput>): Promise<WebhookView> {
    requireAccountAdmin(actor);
    if (input.url !== undefined) await this.checkTarget(input.url);
    const hook = await this.d.sequelize.transaction(async (tx) => {
      const w = await findInAccount(this.d.models.Webhook, actor.accountId, id, 'webhook', tx);
      const before = presentWebhook(w);
      const changes: Partial<Webhook> = {};
      if (input.url !== undefined) changes.url = input.url;
      if (input.events !== undefined) changes.events = [...new Set(input.events)];
      if (input.description !== undefined) changes.description = input.description;
      if (input.active !== undefined) {
        changes.active = input.active;
        // Re-enabling starts a fresh failure window.
        if (input.active && !w.active) Object.assign(changes, { failing_since: null, disabled_reason: null });
      }
      await w.update(changes, { transaction: tx });
      const changed = diff(before, presentWebhook(w));
      await this.d.audit.record(tx, actor, { action: 'webhook.updated', targetType: 'webhook', targetId: w.id, ...changed });
      return w;
    });
    return presentWebhook(hook);
  }

  async remove(actor: Actor, id: number): Promise<void> {
    requireAccountAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const w = await findInAccount(this.d.models.Webhook, actor.accountId, id, 'webhook', tx);
      const before = presentWebhook(w);
      await this.d.models.WebhookDelivery.destroy({ where: { webhook_id: w.id }, transaction: tx });
      await w.destroy({ transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'webhook.deleted', targetType: 'webhook', targetId: id, before });
    });
  }

  async rotateSecret(actor: Actor, id: number): Promise<string> {
    requireAccountAdmin(actor);
    const secret = newSecret();
    await this.d.sequelize.transaction(async (tx) => {
      const w = await findInAccount(this.d.models.Webhook, actor.accountId, id, 'webhook', tx);
      await w.update({ secret_enc: this.d.secrets.encrypt(secret) }, { transaction: tx });
      await this.d.audit.record(tx, actor, { action: 'webhook.secret_rotated', targetType: 'webhook', targetId: w.id });
    });
    return secret;
  }

  /** Newest first; `before` is the last id of the previous page. */
  /** Newest first. */
  async deliveries(actor: Actor, id: number, q: PageRequest): Promise<Page<DeliveryView>> {
    this.requireReader(actor);
    const w = await findInAccount(this.d.models.Webhook, actor.accountId, id, 'webhook');
    const page = await keysetPage(this.d.models.WebhookDelivery, { webhook_id: w.id }, { sort: 'id', ...q, descending: true });
    return { data: page.data.map(presentDelivery), next_cursor: page.next_cursor };
  }

  /** Queues the same event (same body and event id, so receivers can de-duplicate) as a new delivery. */
  async redeliver(actor: Actor, id: number, deliveryId: number): Promise<DeliveryView> {
    requireAccountAdmin(actor);
    return this.d.sequelize.transaction(async (tx) => {
      const w = await findInAccount(this.d.models.Webhook, actor.accountId, id, 'webhook', tx);
      const original = await this.d.models.WebhookDelivery.findOne({ where: { id: deliveryId, webhook_id: w.id }, transaction: tx });
      if (!original) throw new NotFoundError('delivery', deliveryId);
      const at = this.d.now();
      const copy = await this.d.models.WebhookDelivery.create(
        {
          account_id: w.account_id,
          webhook_id: w.id,
          event_id: original.event_id,
          event_type: original.event_type,
          payload: original.payload,
          status: 'pending',
          next_attempt_at: at,
          created_at: at,
          updated_at: at,
        },
        { transaction: tx },
      );
      await this.d.audit.record(tx, actor, {
        action: 'webhook.redelivered',
        targetType: 'webhook',
        targetId: w.id,
        after: { delivery_id: Number(copy.id), of_delivery_id: deliveryId, event_id: original.event_id },
      });
      return presentDelivery(copy);
    });
  }

  /** Sends a webhook.ping now (one attempt, no retries) and returns its outcome; also works on a disabled webhook. */
  async ping(actor: Actor, id: number): Promise<DeliveryView> {
    requireAccountAdmin(actor);
    const delivery = await this.d.sequelize.transaction(async (tx) => {
      const w = await findInAccount(this.d.models.Webhook, actor.accountId, id, 'webhook', tx);
      const at = this.d.now();
      const env = buildEnvelope(w.account_id, PING_EVENT, { webhook_id: w.id, message: 'Switchboard webhook test' }, at);
      const d = await this.d.models.WebhookDelivery.create(
        {
          account_id: w.account_id,
          webhook_id: w.id,
          event_id: env.id,
          event_type: PING_EVENT,
          payload: JSON.stringify(env),
          status: 'pending',
          next_attempt_at: null,
          created_at: at,
          updated_at: at,
        },
        { transaction: tx },
      );
      await this.d.audit.record(tx, actor, { action: 'webhook.tested', targetType: 'webhook', targetId: w.id, after: { delivery_id: Number(d.id) } });
      return d;
    });
    await this.d.job.deliverOnce(Number(delivery.id));
    return presentDelivery((await this.d.models.WebhookDelivery.findByPk(delivery.id))!);
  }

  private requireReader(actor: Actor): void {
    if (!isAdmin(actor) && actor.role !== 'viewer') throw new ForbiddenError('admin_required', 'Only admins and viewers can see webhooks');
  }

  private async checkTarget(url: string): Promise<void> {
    await assertAllowedTarget(url, {
      allowLoopback: this.d.allowLoopbackTargets,
      allowPrivate: this.d.allowPrivateTargets,
      ...(this.d.lookup ? { lookup: this.d.lookup } : {}),
    });
  }
}

function newSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64url')}`;
}
