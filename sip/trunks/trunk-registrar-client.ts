import crypto from 'node:crypto';
import os from 'node:os';
import { Op } from 'sequelize';
import type { Database } from '../../src/db/database.js';
import type { SecretBox } from '../../src/crypto/secret-box.js';
import type { WebhookOutbox } from '../../src/webhooks/webhook-outbox.js';
import type { AppConfig } from '../../src/config.js';
import type { TelephonyProvider, TrunkRegistrationState } from '../../src/db/models/telephony-provider.js';
import type { Logger } from '../../src/logger.js';
import type { OutboundRequestPort } from '../transactions/outbound-request-port.js';
import { TrunkRegistrationDialog, type TrunkTarget } from './trunk-registration.js';

type TrunkSettings = AppConfig['telephony']['trunks'];

interface Runner {
  fingerprint: string;
  dialog: TrunkRegistrationDialog;
  stop: AbortController;
  done: Promise<void>;
  /** A registration is (or may be) in place at the carrier. */
  bound: boolean;
}

export interface TrunkRegistrarClientDeps {
  db: Database;
  secrets: SecretBox;
  outbox: WebhookOutbox;
  port: OutboundRequestPort;
  settings: TrunkSettings;
  logger: Logger;
  /** Names this process in the lease; unique per process. */
  nodeId?: string;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Keeps the account's SIP trunks registered at their carriers. Each trunk is
 * leased in the database to one node (lease_owner until lease_until, renewed
 * every tick); a node that dies stops renewing and another takes the trunk
 * over at its next tick. The leaseholder first clears the AOR's bindings
 * (a dead node's contact), then registers, refreshes before expiry, lists the
 * bindings now and then to notice a carrier that forgot us (restart) and
 * registers again, and backs off after failures. Disable or delete sends
 * Expires: 0; a deleted trunk's row is removed once that is done.
 */
export class TrunkRegistrarClient {
  readonly nodeId: string;
  private readonly runners = new Map<number, Runner>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly d: TrunkRegistrarClientDeps) {
    this.nodeId = d.nodeId ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick()
        .catch((err: unknown) => this.d.logger.error({ err }, 'trunk registration tick failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.d.settings.tickSeconds * 1000);
          this.timer?.unref();
        });
    };
    loop();
  }

  /** Stops refreshing and hands the leases back so another node takes over at once; bindings are left to expire or to the next holder. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const ids = [...this.runners.keys()];
    await Promise.all(ids.map((id) => this.halt(id)));
    if (ids.length) await this.models.TelephonyProvider.update({ lease_owner: null, lease_until: null }, { where: { id: ids, lease_owner: this.nodeId } });
  }

  private get models() {
    return this.d.db.models;
  }

  /** One pass: claim or renew leases, start, stop or retarget runners, unregister what should no longer be registered. */
  async tick(): Promise<void> {
    const now = new Date();
    const trunks = await this.models.TelephonyProvider.findAll({ where: { type: 'sip_trunk' } });
    const seen = new Set<number>();
    for (const p of trunks) {
      seen.add(p.id);
      const settings = JSON.parse(p.settings) as { register?: boolean };
      const wanted = Boolean(p.enabled && !p.deleted_at && settings.register);
      const runner = this.runners.get(p.id);
      // A trunk nobody registers and that should not be registered needs no lease, unless it is a tombstone to clean up.
      if (!wanted && !runner && !p.deleted_at && p.lease_owner !== this.nodeId) continue;
      const held = await this.claim(p, now);
      if (!held) {
        if (runner) await this.halt(p.id);
        continue;
      }
      if (!wanted) {
        await this.halt(p.id, { unregister: true });
        if (!runner && p.deleted_at) await this.unregisterWith(p);
        if (p.deleted_at) await p.destroy();
        else await this.release(p, 'disabled');
        continue;
      }
      const fp = `${p.settings}|${p.credentials_enc}`;
      if (runner && runner.fingerprint !== fp) await this.halt(p.id, { unregister: true });
      if (!this.runners.has(p.id)) this.launch(p, fp);
    }
    for (const id of [...this.runners.keys()]) if (!seen.has(id)) await this.halt(id);
  }

  /**
   * Takes or renews the lease; true when this node holds it now. One
   * conditional UPDATE of the trunk's row, so two nodes claiming at once
   * write the same row: on one server the row lock orders them and the
   * second's WHERE no longer matches; on Galera the later write set fails
   * certification (ER_LOCK_DEADLOCK, or retried by the server as an
   * autocommit statement and then matching nothing), so one node only
   * registers the trunk. Never GET_LOCK(): node-local on Galera.
   */
  private async claim(p: TelephonyProvider, now: Date): Promise<boolean> {
    const until = new Date(now.getTime() + this.d.settings.leaseSeconds * 1000);
    const [n] = await this.models.TelephonyProvider.update(
      { lease_owner: this.nodeId, lease_until: until },
      { where: { id: p.id, [Op.or]: [{ lease_owner: this.nodeId }, { lease_owner: null }, { lease_until: { [Op.lt]: now } }] }, silent: true },
    );
    return n === 1;
  }

  private target(p: TelephonyProvider): TrunkTarget {
    const s = JSON.parse(p.settings) as Omit<TrunkTarget, 'username' | 'password'>;
    const c = JSON.parse(this.d.secrets.decrypt(p.credentials_enc)) as { username: string; password: string };
    return { ...s, username: c.username, password: c.password };
  }

  private launch(p: TelephonyProvider, fingerprint: string): void {
    const dialog = new TrunkRegistrationDialog(this.d.port, this.target(p));
    const stop = new AbortController();
    const runner: Runner = { fingerprint, dialog, stop, bound: false, done: Promise.resolve() };
    runner.done = this.run(p.id, p.account_id, runner).catch((err: unknown) => this.d.logger.error({ err, trunk: p.id }, 'trunk registration loop failed'));
    this.runners.set(p.id, runner);
  }

  private async run(id: number, accountId: number, r: Runner): Promise<void> {
    const s = this.d.settings;
    const signal = r.stop.signal;
    await this.record(id, accountId, { reg_state: 'registering' });
    // Bindings a dead node (or our previous boot) left behind would make two registrations.
    await r.dialog.unregisterAll();
    let failures = 0;
    while (!signal.aborted) {
      const out = await r.dialog.register();
      if (signal.aborted) break;
      if (!out.ok) {
        failures += 1;
        await this.record(id, accountId, {
          reg_state: 'failed',
          reg_last_status: out.status,
          reg_last_error: `${out.status} ${out.reason}`.slice(0, 500),
          reg_expires_at: null,
        });
        const backoff = Math.min(s.retryMaxSeconds, s.retryMinSeconds * 2 ** (failures - 1));
        await sleep(backoff * 1000 * (0.75 + Math.random() * 0.25), signal);
        continue;
      }
      failures = 0;
      r.bound = true;
      // The clearing before the first REGISTER can fail (a lost answer, the carrier busy): the 200 lists every binding of
      // the AOR (RFC 3261 §10.3 step 8), so a dead node's contact still there is removed now rather than left to expire.
      if (out.contacts.length > 1) await r.dialog.removeOthers(out.contacts);
      const expiresAt = Date.now() + out.expires * 1000;
      await this.record(id, accountId, { reg_state: 'registered', reg_last_status: out.status, reg_last_error: null, reg_expires_at: new Date(expiresAt) });
      // Refresh ahead of expiry, and at the latest at half the lifetime, so a lost refresh still has time for retransmissions and a retry.
      const refreshAt = expiresAt - Math.max(Math.min(s.refreshBeforeSeconds, out.expires / 2), 1) * 1000;
      while (!signal.aborted && Date.now() < refreshAt) {
        await sleep(Math.min(refreshAt - Date.now(), s.verifySeconds * 1000), signal);
        if (signal.aborted || Date.now() >= refreshAt) break;
        const q = await r.dialog.query();
        // A carrier that restarted without its location table no longer lists us: register again now.
        if (q.ok && !q.listed) {
          this.d.logger.info({ trunk: id }, 'carrier lost the trunk registration; registering again');
          break;
        }
      }
    }
  }

  /** Stops a runner; with unregister, sends Expires: 0 for its bindings first. */
  private async halt(id: number, opts: { unregister?: boolean } = {}): Promise<void> {
    const r = this.runners.get(id);
    if (!r) return;
    this.runners.delete(id);
    r.stop.abort();
    await r.done;
    if (opts.unregister) await r.dialog.unregisterAll();
  }

  /** A tombstone whose registering node died: clear the AOR at the carrier from here. */
  private async unregisterWith(p: TelephonyProvider): Promise<void> {
    try {
      await new TrunkRegistrationDialog(this.d.port, this.target(p)).unregisterAll();
    } catch (err) {
      this.d.logger.warn({ err, trunk: p.id }, 'unregistering a deleted trunk failed');
    }
  }

  private async release(p: TelephonyProvider, state: TrunkRegistrationState): Promise<void> {
    await this.record(p.id, p.account_id, { reg_state: state, reg_expires_at: null });
    await this.models.TelephonyProvider.update({ lease_owner: null, lease_until: null }, { where: { id: p.id, lease_owner: this.nodeId }, silent: true });
  }

  /** Writes the state while this node holds the lease; a change to registered or failed is a webhook. */
  private async record(
    id: number,
    accountId: number,
    fields: Partial<Pick<TelephonyProvider, 'reg_state' | 'reg_last_status' | 'reg_last_error' | 'reg_expires_at'>>,
  ): Promise<void> {
    await this.d.db.sequelize.transaction(async (tx) => {
      const p = await this.models.TelephonyProvider.findOne({ where: { id, lease_owner: this.nodeId }, transaction: tx, lock: tx.LOCK.UPDATE });
      if (!p) return;
      const changed = fields.reg_state !== undefined && fields.reg_state !== p.reg_state;
      const statusMoved = fields.reg_last_status !== undefined && fields.reg_last_status !== p.reg_last_status;
      await p.update({ ...fields, ...(changed ? { reg_since: new Date() } : {}) }, { transaction: tx, silent: true });
      if ((changed || (fields.reg_state === 'failed' && statusMoved)) && (fields.reg_state === 'registered' || fields.reg_state === 'failed')) {
        await this.d.outbox.enqueue(tx, accountId, 'telephony.provider_status_changed', {
          provider_id: id,
          type: 'sip_trunk',
          registration: {
            state: fields.reg_state,
            last_status: p.reg_last_status,
            last_error: p.reg_last_error,
            expires_at: p.reg_expires_at?.toISOString() ?? null,
          },
        });
      }
    });
  }
}
