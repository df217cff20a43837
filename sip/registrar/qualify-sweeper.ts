import { QueryTypes, type Sequelize } from 'sequelize';
import type { QualifySender, QualifyTarget } from './qualify-sender.js';
import type { SipTransportName } from '../message/types.js';
import type { SipLogger } from '../sip-logger.js';
import type { BindingStore } from './binding-store.js';
import { dbDateText } from './binding-rows.js';
import type { RegistrarMetrics } from './registrar-metrics.js';

export interface QualifySweeperOptions {
  sequelize: Sequelize;
  dialect: 'sqlite' | 'mysql';
  store: BindingStore;
  sender: QualifySender;
  nodeId: string;
  /** A binding is probed again once its last probe is older than this. */
  intervalSeconds: number;
  /** How often the sweeper looks for bindings due a probe. */
  tickSeconds: number;
  /** Most bindings probed per tick, so one tick's work stays bounded. */
  batchSize: number;
  /** Probes in flight at once. */
  concurrency: number;
  logger: SipLogger;
  metrics?: RegistrarMetrics;
  /**
   * When given, a binding that fails a probe while already unreachable
   * (second failure in a row) is removed through this (with its event).
   * For edges that never see a connection close (drachtio).
   */
  removeUnreachable?: (ids: number[], probedSince: Date) => Promise<number>;
  now?: () => number;
}

interface DueRow {
  id: unknown;
  contact_uri: string;
  transport: string;
  source_address: string;
  source_port: unknown;
  connection_id: string | null;
  unreachable: unknown;
}

const TRANSPORTS = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);

/**
 * OPTIONS "qualify": probes the bindings this node registered, a bounded
 * batch per tick (only those not probed within `intervalSeconds`, the
 * longest-unprobed first), and marks the ones that do not answer
 * `unreachable` (cleared when they answer again, or when the device
 * refreshes). The evict_unreachable policy evicts those first.
 *
 * RFC 3261 §11.1: a UA answers OPTIONS as it would an INVITE, so any final
 * response proves the device is there; the sender decides what counts.
 */
export class QualifySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | null = null;
  private readonly now: () => number;

  constructor(private readonly o: QualifySweeperOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .catch((err: unknown) => this.o.logger.error({ err }, 'SIP qualify tick failed'))
        .finally(() => (this.running = null));
    }, this.o.tickSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round: probe the due bindings; returns how many answered and how many did not. */
  async tick(): Promise<{ reachable: number; unreachable: number; removed: number }> {
    const nowMs = this.now();
    const due = await this.o.sequelize.query<DueRow>(
      `SELECT id, contact_uri, transport, source_address, source_port, connection_id, unreachable FROM registrations
        WHERE node_id = :nodeId AND (qualified_at IS NULL OR qualified_at <= :cutoff) AND expires_at > :now
        ORDER BY qualified_at LIMIT ${Math.max(1, Math.floor(this.o.batchSize))}`,
      {
        replacements: { nodeId: this.o.nodeId, cutoff: this.dbDate(new Date(nowMs - this.o.intervalSeconds * 1000)), now: this.dbDate(new Date(nowMs)) },
        type: QueryTypes.SELECT,
      },
    );
    const results: Array<{ id: number; reachable: boolean; was: boolean }> = [];
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const row = due[next++]!;
        if (!TRANSPORTS.has(row.transport)) continue;
        const target: QualifyTarget = {
          contactUri: row.contact_uri,
          transport: row.transport as SipTransportName,
          source: { address: row.source_address, port: Number(row.source_port) },
        };
        if (row.connection_id) target.connectionId = row.connection_id;
        let reachable = false;
        try {
          reachable = await this.o.sender.qualify(target);
        } catch (err) {
          this.o.logger.warn({ err, bindingId: Number(row.id) }, 'SIP qualify could not be sent');
        }
        results.push({ id: Number(row.id), reachable, was: !Number(row.unreachable) });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.o.concurrency) }, worker));
    if (results.length) await this.record(results, new Date(this.now()), new Date(nowMs));
    const down = results.filter((r) => !r.reachable);
    const twice = down.filter((r) => !r.was).map((r) => r.id);
    const removed = this.o.removeUnreachable && twice.length ? await this.o.removeUnreachable(twice, new Date(nowMs)) : 0;
    if (removed) this.o.logger.info({ event: 'bindings_unreachable_removed', removed }, 'SIP bindings removed: no answer to two OPTIONS in a row');
    for (const r of down) if (r.was) this.o.logger.info({ event: 'binding_unreachable', bindingId: r.id }, 'SIP binding did not answer OPTIONS');
    this.o.metrics?.qualifies.inc({ result: 'reachable' }, results.length - down.length);
    this.o.metrics?.qualifies.inc({ result: 'unreachable' }, down.length);
    return { reachable: results.length - down.length, unreachable: down.length, removed };
  }

  /** Two statements per tick, whatever the batch size. A binding refreshed meanwhile keeps its fresh `unreachable = false`. */
  private async record(results: Array<{ id: number; reachable: boolean }>, at: Date, started: Date): Promise<void> {
    await this.o.store.write(async (tx) => {
      for (const reachable of [true, false]) {
        const ids = results.filter((r) => r.reachable === reachable).map((r) => r.id);
        if (!ids.length) continue;
        await this.o.sequelize.query(
          `UPDATE registrations SET qualified_at = :at, unreachable = :unreachable WHERE id IN (:ids)${reachable ? '' : ' AND updated_at <= :started'}`,
          { replacements: { at: this.dbDate(at), started: this.dbDate(started), unreachable: !reachable, ids }, type: QueryTypes.RAW, transaction: tx },
        );
      }
    });
  }

  private dbDate(d: Date): string {
    return dbDateText(d, this.o.dialect);
  }
}
