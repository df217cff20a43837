import crypto from 'node:crypto';
import type { Transaction } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { WebhookEvent } from './webhook-events.js';

export interface EventEnvelope {
  id: string;
  type: string;
  created_at: string;
  account_id: number;
  data: unknown;
}

export function buildEnvelope(accountId: number, type: string, data: unknown, at: Date): EventEnvelope {
  return { id: `evt_${crypto.randomUUID().replace(/-/g, '')}`, type, created_at: at.toISOString(), account_id: accountId, data };
}

/**
 * The transactional outbox: the caller passes its own transaction, so a
 * delivery row exists if and only if the change committed. The delivery job
 * sends them later (and again after a restart); nothing here touches the
 * network.
 */
export class WebhookOutbox {
  constructor(
    private readonly models: Models,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Queues one delivery per active webhook of the account subscribed to `type`. Returns how many. */
  async enqueue(tx: Transaction, accountId: number, type: WebhookEvent, data: unknown): Promise<number> {
    const hooks = await this.models.Webhook.findAll({ where: { account_id: accountId, active: true }, attributes: ['id', 'events'], transaction: tx });
    const rows = deliveryRows(accountId, type, data, hooks, this.now());
    if (rows.length) await this.models.WebhookDelivery.bulkCreate(rows, { transaction: tx });
    return rows.length;
  }

  /** Several events of one account: its webhooks read once, every delivery in one insert. */
  async enqueueMany(tx: Transaction, accountId: number, events: ReadonlyArray<{ type: WebhookEvent; data: unknown }>): Promise<number> {
    if (!events.length) return 0;
    const hooks = await this.models.Webhook.findAll({ where: { account_id: accountId, active: true }, attributes: ['id', 'events'], transaction: tx });
    if (!hooks.length) return 0;
    const at = this.now();
    const rows = events.flatMap((e) => deliveryRows(accountId, e.type, e.data, hooks, at));
    if (rows.length) await this.models.WebhookDelivery.bulkCreate(rows, { transaction: tx });
    return rows.length;
  }
}

/** A webhook_deliveries row as the outbox writes it (every writer — Sequelize or the registrar's own SQL — writes this shape). */
export interface DeliveryRow {
  account_id: number;
  webhook_id: number;
  event_id: string;
  event_type: string;
  payload: string;
  status: 'pending';
  attempts: number;
  next_attempt_at: Date;
  created_at: Date;
  updated_at: Date;
}

/** One pending delivery of the event per webhook of `hooks` subscribed to its type (none when nobody is). */
export function deliveryRows(accountId: number, type: string, data: unknown, hooks: ReadonlyArray<{ id: number; events: unknown }>, at: Date): DeliveryRow[] {
  const targets = hooks.filter((h) => parseEvents(h.events).includes(type));
  if (!targets.length) return [];
  const envelope = buildEnvelope(accountId, type, data, at);
  const payload = JSON.stringify(envelope);
  return targets.map((h) => ({
    account_id: accountId,
    webhook_id: Number(h.id),
    event_id: envelope.id,
    event_type: type,
    payload,
    status: 'pending' as const,
    attempts: 0,
    next_attempt_at: at,
    created_at: at,
    updated_at: at,
  }));
}

/** MariaDB returns JSON columns as text; SQLite as parsed values. */
export function parseEvents(v: unknown): string[] {
  const arr = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  return Array.isArray(arr) ? arr.map(String) : [];
}
