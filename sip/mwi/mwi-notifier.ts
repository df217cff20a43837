import crypto from 'node:crypto';
import { QueryTypes, type Sequelize } from 'sequelize';
import { boundedCache } from '../../src/shared/bounded-cache.js';
import type { DeviceRequestPort, DeviceTarget } from '../registrar/device-request-port.js';
import type { SipTransportName } from '../message/types.js';
import { dbDateText } from '../registrar/binding-rows.js';
import type { SipLogger } from '../sip-logger.js';
import { ChangeCursor } from './change-cursor.js';
import { MESSAGE_SUMMARY_TYPE, messageSummaryBody } from './message-summary.js';
import { ConcurrencyLimit } from './concurrency-limit.js';

export interface MwiNotifierOptions {
  sequelize: Sequelize;
  dialect: 'sqlite' | 'mysql';
  port: DeviceRequestPort;
  /** This node: it notifies the bindings it registered (it holds their connections). */
  nodeId: string;
  pollMs: number;
  concurrency: number;
  retainSeconds: number;
  /** The SUBSCRIBE dialogs this node holds: notified on the same changes (their bindings are skipped here). */
  subscriptions?: { notifyMailboxes(mailboxIds: number[]): Promise<void> };
  logger: SipLogger;
  now?: () => number;
}

interface DeviceRow {
  id: number;
  aor: string;
  contact_uri: string;
  transport: string;
  source_address: string;
  source_port: number;
  connection_id: string | null;
  node_id: string;
  new_messages: number;
  old_messages: number;
  urgent_new_messages: number;
  urgent_old_messages: number;
}

export interface MwiNotifyResult {
  sent: number;
  answered: number;
  failed: number;
}

/** Rows per poll query, and how long ids stay re-read (a change's transaction may commit after a later one's). */
const POLL_PAGE = 10_000;
const REREAD_WINDOW_MS = 2000;

const TRANSPORTS = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);

/**
 * Unsolicited message-summary NOTIFYs (RFC 3842 §3; the way PBXs light
 * phones that do not SUBSCRIBE) to every live binding of every user whose
 * *primary* mailbox changed — never to users the mailbox is only delegated
 * to — on the accounts that have MWI on. A binding whose device holds a
 * SUBSCRIBE dialog gets the in-dialog NOTIFY instead, not both.
 *
 * Changes come from the mwi_changes rows the API writes with the counts;
 * each node polls for ids past the last it saw and notifies the bindings it
 * registered (it holds their connections). A device that registers anew
 * (new binding or new Call-ID: a rebooted phone) is notified once.
 */
export class MwiNotifier {
  private cursor: ChangeCursor | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private lastPrune = 0;
  private readonly now: () => number;
  /** Bindings already notified on registration, by id → Call-ID (a restart notifies each once more: harmless). */
  private readonly notifiedFor = boundedCache<number, string>(100_000);
  private readonly limit: ConcurrencyLimit;

  constructor(private readonly o: MwiNotifierOptions) {
    this.now = o.now ?? Date.now;
    this.limit = new ConcurrencyLimit(o.concurrency);
  }

  /** Starts after the changes already recorded: what changed while this node was down is not replayed (the next REGISTER lights the phone). */
  async start(): Promise<void> {
    const [row] = await this.o.sequelize.query<{ id: number | null }>('SELECT MAX(id) AS id FROM mwi_changes', { type: QueryTypes.SELECT });
    this.cursor = new ChangeCursor(Number(row?.id ?? 0), Math.max(REREAD_WINDOW_MS, this.o.pollMs * 8));
    this.timer = setInterval(() => void this.poll(), this.o.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
  }

  /** One look for new changes (the timer calls it; tests may too). Resolves once their NOTIFYs are answered. */
  poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = this.pollOnce()
      .catch((err: unknown) => this.o.logger.error({ err }, 'MWI poll failed'))
      .finally(() => {
        this.polling = undefined;
      });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    if (this.stopped) return;
    const cursor = this.cursor;
    if (!cursor) return;
    const mailboxes = new Set<number>();
    // Pages in id order from the cursor's low mark; ids already handled are read again (ChangeCursor) and skipped.
    for (let after = cursor.low; ;) {
      const rows = await this.o.sequelize.query<{ id: number; mailbox_id: number }>(
        `SELECT id, mailbox_id FROM mwi_changes WHERE id > :after ORDER BY id LIMIT ${POLL_PAGE}`,
        { replacements: { after }, type: QueryTypes.SELECT },
      );
      const byId = new Map(rows.map((r) => [Number(r.id), Number(r.mailbox_id)]));
      for (const id of cursor.take([...byId.keys()], this.now())) mailboxes.add(byId.get(id)!);
      if (rows.length < POLL_PAGE) break;
      after = Number(rows[rows.length - 1]!.id);
    }
    await this.prune();
    if (!mailboxes.size) return;
    const ids = [...mailboxes];
    await Promise.all([this.notifyMailboxes(ids), this.o.subscriptions?.notifyMailboxes(ids)]);
  }

  /** NOTIFY the devices of the users whose primary mailbox is one of these. */
  async notifyMailboxes(mailboxIds: number[]): Promise<MwiNotifyResult> {
    const total: MwiNotifyResult = { sent: 0, answered: 0, failed: 0 };
    for (let i = 0; i < mailboxIds.length; i += 500) {
      const devices = await this.devices('m.id IN (:ids)', { ids: mailboxIds.slice(i, i + 500) });
      const r = await this.notifyAll(devices);
      total.sent += r.sent;
      total.answered += r.answered;
      total.failed += r.failed;
    }
    return total;
  }

  /**
   * After a REGISTER committed (Registrar onRegistered): a binding that is
   * new, or came back with a new Call-ID (the phone restarted and forgot its
   * lamp), gets the counts. Decided from what the REGISTER returned, so a
   * refresh (same binding, same Call-ID) and a user without a primary
   * mailbox cost no query.
   */
  readonly registered = (cred: { primaryMailboxId: number | null }, bindings: readonly { id: number; call_id: string }[], callId: string): void => {
    if (this.stopped || cred.primaryMailboxId === null) return;
    const fresh: number[] = [];
    for (const b of bindings) if (b.id > 0 && b.call_id === callId && this.notifiedFor.get(b.id) !== callId) fresh.push(b.id);
    if (!fresh.length) return;
    // Marked before the NOTIFY: a retransmitted REGISTER answered meanwhile must not light the phone twice.
    for (const id of fresh) this.notifiedFor.set(id, callId);
    void this.devices('r.id IN (:ids)', { ids: fresh })
      .then((devices) => this.notifyAll(devices))
      .catch((err: unknown) => this.o.logger.error({ err }, 'MWI NOTIFY after REGISTER failed'));
  };

  private async devices(where: string, replacements: Record<string, unknown>): Promise<DeviceRow[]> {
    // users.mailbox_id is the primary mailbox: delegations (mailbox_delegations) are never joined. A device that
    // subscribed (linked to its binding, or — subscribed before it registered — the same user from the same
    // connection, source or Contact) gets the NOTIFYs of its dialog instead.
    return this.o.sequelize.query<DeviceRow>(
      `SELECT r.id, r.aor, r.contact_uri, r.transport, r.source_address, r.source_port, r.connection_id, r.node_id,
              m.new_messages, m.old_messages, m.urgent_new_messages, m.urgent_old_messages
         FROM mailboxes m
         JOIN users u ON u.mailbox_id = m.id
         JOIN accounts a ON a.id = u.account_id
         JOIN registrations r ON r.user_id = u.id
        WHERE ${where} AND a.mwi_enabled <> 0 AND r.node_id = :nodeId AND r.expires_at > :now
          AND NOT EXISTS (SELECT 1 FROM mwi_subscriptions s WHERE s.expires_at > :now AND (s.registration_id = r.id
                OR (s.registration_id IS NULL AND s.user_id = r.user_id AND (s.contact_uri = r.contact_uri
                  OR (s.connection_id IS NOT NULL AND s.connection_id = r.connection_id)
                  OR (s.connection_id IS NULL AND r.connection_id IS NULL AND s.transport = r.transport
                      AND s.source_address = r.source_address AND s.source_port = r.source_port)))))`,
      { replacements: { ...replacements, nodeId: this.o.nodeId, now: dbDateText(new Date(this.now()), this.o.dialect) }, type: QueryTypes.SELECT },
    );
  }

  private async notifyAll(devices: DeviceRow[]): Promise<MwiNotifyResult> {
    const r: MwiNotifyResult = { sent: 0, answered: 0, failed: 0 };
    await Promise.all(
      devices.map(async (d) => {
        if (!TRANSPORTS.has(d.transport)) return;
        await this.limit.run(async () => {
          r.sent += 1;
          const res = await this.o.port.send(this.unsolicited(d));
          if (res.status >= 200 && res.status < 300) r.answered += 1;
          else {
            r.failed += 1;
            this.o.logger.debug({ bindingId: d.id, status: res.status, origin: res.origin }, 'MWI NOTIFY not accepted');
          }
        });
      }),
    );
    return r;
  }

  private unsolicited(d: DeviceRow): Parameters<DeviceRequestPort['send']>[0] {
    const target: DeviceTarget = {
      contactUri: d.contact_uri,
      transport: d.transport as SipTransportName,
      source: { address: d.source_address, port: Number(d.source_port) },
      nodeId: d.node_id,
      ...(d.connection_id ? { connectionId: d.connection_id } : {}),
    };
    const local = this.o.port.local(target.transport);
    const host = local.host.includes(':') ? `[${local.host}]` : local.host;
    const aor = d.aor.startsWith('sip') ? d.aor : `sip:${d.aor}`;
    return {
      method: 'NOTIFY',
      uri: d.contact_uri,
      target,
      headers: [
        `From: <${aor}>;tag=${crypto.randomBytes(6).toString('hex')}`,
        `To: <${aor}>`,
        `Call-ID: ${crypto.randomBytes(12).toString('hex')}@${host}`,
        'CSeq: 1 NOTIFY',
        `Contact: <sip:switchboard@${host}:${local.port}>`,
        'Event: message-summary',
        // RFC 6665 §4.2.2 requires the header; phones that light on unsolicited NOTIFYs expect "active" there.
        'Subscription-State: active',
        `Content-Type: ${MESSAGE_SUMMARY_TYPE}`,
      ],
      body: messageSummaryBody({
        account: aor,
        new: Number(d.new_messages),
        old: Number(d.old_messages),
        urgentNew: Number(d.urgent_new_messages),
        urgentOld: Number(d.urgent_old_messages),
      }),
    };
  }

  private async prune(): Promise<void> {
    const now = this.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    await this.o.sequelize.query('DELETE FROM mwi_changes WHERE created_at < :cutoff', {
      replacements: { cutoff: dbDateText(new Date(now - this.o.retainSeconds * 1000), this.o.dialect) },
    });
  }
}
