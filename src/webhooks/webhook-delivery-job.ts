import crypto from 'node:crypto';
import os from 'node:os';
import { Op, type Sequelize } from 'sequelize';
import type { Models, WebhookDelivery } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { systemActor } from '../http/actor.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../shared/clock.js';
import { postJson, type SendResult } from './webhook-sender.js';
import { SIGNATURE_HEADER, signatureHeader } from './webhook-signature.js';

export interface DeliverySettings {
  allowLoopbackTargets: boolean;
  allowPrivateTargets: boolean;
  requestTimeoutMs: number;
  maxResponseBytes: number;
  retryWindowSeconds: number;
  backoffBaseSeconds: number;
  backoffMaxSeconds: number;
  leaseSeconds: number;
  delivery: { batchSize: number };
}

/** Delay before attempt n+1 after n failed attempts: base·2^(n−1), capped. */
export function backoffSeconds(failedAttempts: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.max(0, failedAttempts - 1));
}

/**
 * Sends what the outbox queued. Each due delivery is claimed with a lease
 * (a guarded UPDATE that only one process can win), so two processes never
 * send the same attempt; a process that dies mid-send loses its lease and the
 * attempt is retried after leaseSeconds. Failures are retried with exponential
 * backoff until the delivery is retryWindowSeconds old (≥ 24 h); a webhook
 * that has failed for that long is disabled and the disablement audited.
 */
export class WebhookDeliveryJob {
  readonly owner = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;

  constructor(
    private readonly d: { sequelize: Sequelize; models: Models; audit: AuditLog; secrets: SecretBox; logger: Logger; now: Clock; settings: DeliverySettings },
  ) {}

  /** Sends every delivery due now (up to batchSize); returns how many this process attempted. */
  async runDue(): Promise<number> {
    const now = this.d.now();
    const due = await this.d.models.WebhookDelivery.findAll({
      where: { status: 'pending', next_attempt_at: { [Op.lte]: now }, [Op.or]: [{ lease_until: null }, { lease_until: { [Op.lte]: now } }] },
      order: [
        ['next_attempt_at', 'ASC'],
        ['id', 'ASC'],
      ],
      limit: this.d.settings.delivery.batchSize,
      attributes: ['id'],
    });
    let attempted = 0;
    for (const row of due) {
      if (await this.claim(Number(row.id))) {
        attempted += 1;
        await this.attempt(Number(row.id), { retry: true });
      }
    }
    return attempted;
  }

  /** One immediate attempt without retries (the test ping). */
  async deliverOnce(id: number): Promise<void> {
    if (await this.claim(id)) await this.attempt(id, { retry: false });
  }

  private async claim(id: number): Promise<boolean> {
    const now = this.d.now();
    // One send per attempt, on Galera too: a claim is a write of the delivery's row, and of two nodes' claims
    // certification commits only the first (the other fails or, re-run by the server, matches nothing).
    const [n] = await this.d.models.WebhookDelivery.update(
      { lease_owner: this.owner, lease_until: new Date(now.getTime() + this.d.settings.leaseSeconds * 1000) },
      { where: { id, status: 'pending', [Op.or]: [{ lease_until: null }, { lease_until: { [Op.lte]: now } }] } },
    );
    return n === 1;
  }

  private async attempt(id: number, opts: { retry: boolean }): Promise<void> {
    const m = this.d.models;
    const delivery = await m.WebhookDelivery.findByPk(id);
    if (!delivery || delivery.lease_owner !== this.owner) return;
    const hook = await m.Webhook.findByPk(delivery.webhook_id);
    if (!hook || (!hook.active && delivery.event_type !== 'webhook.ping')) {
      await this.finish(delivery, { status: 'skipped', last_error: 'the webhook is disabled' });
      return;
    }
    const attemptAt = this.d.now();
    const body = delivery.payload;
    const t = Math.floor(attemptAt.getTime() / 1000);
    let result: SendResult;
    try {
      const secret = this.d.secrets.decrypt(hook.secret_enc);
      result = await postJson(
        new URL(hook.url),
        body,
        {
          'User-Agent': 'Switchboard-Webhooks/1',
          'Switchboard-Event': delivery.event_type,
          'Switchboard-Event-Id': delivery.event_id,
          'Switchboard-Delivery': String(delivery.id),
          'Switchboard-Attempt': String(delivery.attempts + 1),
          [SIGNATURE_HEADER]: signatureHeader(secret, t, body),
        },
        {
          timeoutMs: this.d.settings.requestTimeoutMs,
          maxResponseBytes: this.d.settings.maxResponseBytes,
          allowLoopback: this.d.settings.allowLoopbackTargets,
          allowPrivate: this.d.settings.allowPrivateTargets,
        },
      );
    } catch (err) {
      result = { ok: false, status: null, error: `not sent: ${(err as Error).message}`.slice(0, 300), durationMs: 0 };
    }
    const attempts = delivery.attempts + 1;
    const common = {
      attempts,
      last_attempt_at: attemptAt,
      last_status_code: result.status,
      last_error: result.error?.slice(0, 500) ?? null,
      last_duration_ms: result.durationMs,
    };
    if (result.ok) {
      await this.finish(delivery, { ...common, status: 'succeeded', delivered_at: this.d.now() });
      if (delivery.event_type !== 'webhook.ping' && hook.failing_since) await hook.update({ failing_since: null });
      return;
    }
    const now = this.d.now();
    const ageSeconds = (now.getTime() - delivery.created_at.getTime()) / 1000;
    const exhausted = !opts.retry || ageSeconds >= this.d.settings.retryWindowSeconds;
    const next = new Date(now.getTime() + backoffSeconds(attempts, this.d.settings.backoffBaseSeconds, this.d.settings.backoffMaxSeconds) * 1000);
    await this.finish(delivery, exhausted ? { ...common, status: 'failed' } : { ...common, next_attempt_at: next });
    if (delivery.event_type === 'webhook.ping') return;
    const failingSince = hook.failing_since ?? attemptAt;
    if (!hook.failing_since) await hook.update({ failing_since: failingSince });
    const failingFor = (now.getTime() - failingSince.getTime()) / 1000;
    if (exhausted || failingFor >= this.d.settings.retryWindowSeconds) await this.disable(hook.id, result, failingSince);
  }

  /** Releases the lease with the outcome; guarded by the lease owner so a stale process cannot overwrite. */
  private async finish(delivery: WebhookDelivery, changes: Partial<WebhookDelivery>): Promise<void> {
    await this.d.models.WebhookDelivery.update({ ...changes, lease_owner: null, lease_until: null }, { where: { id: delivery.id, lease_owner: this.owner } });
  }

  private async disable(webhookId: number, last: SendResult, since: Date): Promise<void> {
    await this.d.sequelize.transaction(async (tx) => {
      const hook = await this.d.models.Webhook.findByPk(webhookId, { transaction: tx });
      if (!hook || !hook.active) return;
      const reason = `Deliveries failed since ${since.toISOString()}; last error: ${last.error ?? 'unknown'}`.slice(0, 200);
      await hook.update({ active: false, disabled_reason: reason }, { transaction: tx });
      await this.d.audit.record(tx, systemActor(hook.account_id), {
        action: 'webhook.disabled',
        targetType: 'webhook',
        targetId: hook.id,
        before: { active: true },
        after: { active: false, disabled_reason: reason },
      });
    });
    this.d.logger.warn({ webhookId }, 'webhook disabled after persistent failure');
  }
}
