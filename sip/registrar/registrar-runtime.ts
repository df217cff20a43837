import crypto from 'node:crypto';
import os from 'node:os';
import type { AppConfig } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import type { SecretBox } from '../../src/crypto/secret-box.js';
import type { SipEdgeEvents, SipRequest, SipRequestContext, SipRequestHandler, SipResponseSpec } from '../message/types.js';
import { createDefaultSipRequestHandler } from './default-sip-request-handler.js';
import type { SipLogger } from '../sip-logger.js';
import { NonceService } from '../digest/nonce-service.js';
import { NonceCountTracker } from '../digest/nonce-count-tracker.js';
import { SipCredentialStore } from './credential-store.js';
import { BindingStore } from './binding-store.js';
import { Registrar } from './registrar.js';
import { AuthFailureGuard } from './auth-failure-guard.js';
import { createFailureStore, type FailureStore } from '../../src/throttle/failure-store.js';
import { RegistrarMetrics } from './registrar-metrics.js';
import type { WebhookOutbox } from '../../src/webhooks/webhook-outbox.js';
import { RegistrationEvents } from './registration-events.js';
import { BindingRemoval } from '../../src/registrations/binding-removal.js';
import { BindingLifecycle } from './binding-lifecycle.js';
import { QualifySweeper } from './qualify-sweeper.js';
import type { QualifySender } from './qualify-sender.js';
import { endPool, openRegistrarPool, warmPool, type RegistrarPool } from './mysql-pool.js';
import { MysqlRegisterWriter } from './mysql-register-writer.js';
import { RefreshWriteBehind } from './refresh-write-behind.js';
import { OverloadGate } from './overload-gate.js';
import type { UsageRecorder } from '../../src/usage/usage-recorder.js';
import { UsageCountingBindings } from './usage-counting-bindings.js';
import type { MessageService } from '../../src/messaging/message-service.js';
import { createPhoneMessageHandler } from '../messaging/phone-message-handler.js';
import { MwiNotifier } from '../mwi/mwi-notifier.js';
import { MwiSubscriptions } from '../mwi/mwi-subscriptions.js';
import { SqlMwiSubscriptionStore } from '../mwi/subscription-store.js';
import type { DeviceRequestPort } from './device-request-port.js';

export interface RegistrarRuntimeDeps {
  db: Database;
  config: AppConfig;
  secrets: SecretBox;
  logger: SipLogger;
  /** Key the nonce HMAC secret is derived from when sip.digest.nonceSecret is empty. */
  masterKey: Buffer;
  /** The edge this runtime is mounted on; drachtio caps WS/WSS expiry at sip.drachtio.wsMaxExpires (no connection-close events there). */
  edge?: 'builtin' | 'drachtio';
  /** When given, every binding change is a registration.* webhook event (written in the same transaction). */
  outbox?: WebhookOutbox;
  /**
   * SIP workers: the node ids of every worker of this process group. They
   * share the UDP socket, so whichever one the kernel hands a datagram to
   * answers it; a UDP binding moving between them is not a move.
   */
  socketSiblings?: string[];
  /** Where SIP failure counters live; default: the one config and database select (createFailureStore). */
  failureStore?: FailureStore;
  /** When given, new bindings count as `registrations` and each user's live bindings after a REGISTER as a sample of `active_devices_peak`. */
  usage?: UsageRecorder;
  /** When given, a registered phone's MESSAGE to sip:+E164@domain is sent out as SMS. */
  messages?: MessageService;
  now?: () => number;
}

/**
 * Everything an edge mounts: the request handler (OPTIONS + REGISTER),
 * edge events (connection closed), the ban check, and the expiry sweeper.
 * Edge-agnostic: the built-in edge and a drachtio edge take the same object.
 */
export class RegistrarRuntime {
  readonly registrar: Registrar;
  readonly bindings: BindingStore;
  readonly credentials: SipCredentialStore;
  readonly guard: AuthFailureGuard;
  private readonly failureStore: FailureStore;
  readonly metrics = new RegistrarMetrics();
  readonly handler: SipRequestHandler;
  readonly events: SipEdgeEvents;
  readonly nodeId: string;
  readonly lifecycle: BindingLifecycle;
  /** Bounds the REGISTERs in progress (sip.registrar.overload); past it, 503 + Retry-After. */
  readonly overload: OverloadGate;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** MySQL: the hot path's own connections (REGISTER transaction, credential look-up). */
  private pool: RegistrarPool | undefined;
  /** MySQL with sip.registrar.refreshWriteBehind.enabled: plain refreshes written once per flush interval. */
  readonly refreshes: RefreshWriteBehind | undefined;
  private stopped = false;
  /** Present once startMwi() ran with sip.mwi.enabled. */
  mwi: MwiNotifier | undefined;
  /** SUBSCRIBE dialogs (message-summary); present once startMwi() ran with sip.mwi.enabled. */
  subscriptions: MwiSubscriptions | undefined;
  /** The registrar that authenticates this request (MD5-only for the user agents that need it). */
  private readonly registrarOf: (req: SipRequest) => Registrar;
  /** Present once startQualify() ran with sip.qualify.enabled. */
  qualify: QualifySweeper | undefined;
  private readonly deps: RegistrarRuntimeDeps;
  private readonly now: () => number;

  constructor(deps: RegistrarRuntimeDeps) {
    this.deps = deps;
    const { config, db, logger } = deps;
    const sip = config.sip;
    this.now = deps.now ?? Date.now;
    // hostname:port names this node across restarts; with port 0 (tests) the pid keeps nodes apart.
    this.nodeId = sip.nodeId || `${os.hostname()}:${sip.udp.port || `pid${process.pid}`}`;
    const secret = sip.digest.nonceSecret
      ? Buffer.from(sip.digest.nonceSecret, 'utf8')
      : Buffer.from(crypto.hkdfSync('sha256', deps.masterKey, Buffer.alloc(0), 'switchboard/sip-digest-nonce', 32));
    this.pool = db.dialect === 'mysql' ? openRegistrarPool(db.url, config.database.pool.max) : undefined;
    this.credentials = new SipCredentialStore(db.reader, deps.secrets, sip.registrar.credentialCacheSeconds * 1000, this.now, undefined, this.pool);
    const events = deps.outbox ? new RegistrationEvents(db.sequelize, deps.outbox) : undefined;
    const behind = sip.registrar.refreshWriteBehind;
    if (this.pool && behind.enabled) {
      this.refreshes = new RefreshWriteBehind(this.pool, {
        flushMs: behind.flushMs,
        safetyMs: behind.safetySeconds * 1000,
        maxBatch: behind.maxBatch,
        now: this.now,
        socketSiblings: new Set(deps.socketSiblings ?? []),
        onError: (err, lost) => {
          this.metrics.refreshWriteFailures.inc();
          logger.error(
            { err, lost },
            lost
              ? 'writing deferred SIP refreshes failed; some were past their deadline and are lost (those bindings keep their previous expiry)'
              : 'writing deferred SIP refreshes failed; retrying on the next flush',
          );
        },
      });
    }
    const retries = {
      onRetry: (code: string) => this.metrics.conflictRetries.inc({ code }),
      onGiveUp: (code: string) => this.metrics.conflictGiveUps.inc({ code }),
    };
    const fastPath = this.pool ? new MysqlRegisterWriter(this.pool, events !== undefined, sip.registrar.writeBatch, this.refreshes, retries) : undefined;
    this.bindings = new BindingStore({
      sequelize: db.sequelize,
      ...(events ? { hooks: events.hooks(), eventsWired: true } : {}),
      ...(fastPath ? { mysql: fastPath } : {}),
      ...(db.writer ? { sqliteWriter: db.writer } : {}),
      retries,
    });
    this.lifecycle = new BindingLifecycle({
      sequelize: db.sequelize,
      dialect: db.dialect,
      store: this.bindings,
      removal: new BindingRemoval(db.sequelize, deps.outbox),
    });
    // Shared with every node (Redis, or MySQL); the harness with a moved clock passes a memory store (the shared ones read the real time).
    this.failureStore =
      deps.failureStore ??
      createFailureStore({ redisUrl: config.redis.url, redisKeyPrefix: config.redis.keyPrefix, dialect: db.dialect, sequelize: db.sequelize, now: this.now });
    this.guard = new AuthFailureGuard({ ...sip.protection, store: this.failureStore, now: this.now });
    const registrarOptions: ConstructorParameters<typeof Registrar>[0] = {
      credentials: this.credentials,
      bindings: deps.usage ? new UsageCountingBindings(this.bindings, deps.usage) : this.bindings,
      nonces: new NonceService(secret, sip.digest.nonceTtlSeconds * 1000, this.now),
      nonceCounts: new NonceCountTracker(sip.digest.nonceCountCacheSize),
      guard: this.guard,
      metrics: this.metrics,
      logger,
      nodeId: this.nodeId,
      algorithms: sip.digest.algorithms,
      websocketAlgorithms: sip.digest.websocketAlgorithms,
      minExpires: sip.registrar.minExpires,
      defaultExpires: sip.registrar.defaultExpires,
      maxExpires: sip.registrar.maxExpires,
      scannerUserAgents: sip.protection.scannerUserAgents,
      onRegistered: (cred, bindings, callId) => this.mwi?.registered(cred, bindings, callId),
      ...(deps.edge === 'drachtio' ? { maxExpiresByTransport: { ws: sip.drachtio.wsMaxExpires, wss: sip.drachtio.wsMaxExpires } } : {}),
      now: this.now,
    };
    this.registrar = new Registrar(registrarOptions);
    this.overload = new OverloadGate({
      ...sip.registrar.overload,
      onShed: (reason) => this.metrics.shed.inc({ reason }),
      onQueueWait: (ms) => this.metrics.observeQueueWait(ms),
    });
    this.registrarOf = this.registrarFor(registrarOptions, sip.digest.md5OnlyUserAgents);
    const register = this.overload.wrap((req, ctx) => this.registrarOf(req).handle(req, ctx));
    const message = deps.messages ? createPhoneMessageHandler({ registrar: this.registrar, messages: deps.messages, models: db.models, logger }) : undefined;
    // Until startMwi() has the edge's device port there is nothing to NOTIFY with: a SUBSCRIBE in that moment is asked to come back.
    const subscribe = sip.mwi.enabled
      ? (req: SipRequest, ctx: SipRequestContext) =>
          this.subscriptions
            ? this.subscriptions.handle(req, ctx)
            : Promise.resolve<SipResponseSpec>({ status: 503, reason: 'Service Unavailable', headers: [['Retry-After', '5']] })
      : undefined;
    const base = createDefaultSipRequestHandler({ register, ...(message ? { message } : {}), ...(subscribe ? { subscribe } : {}) });
    const registrar = this.registrar;
    const metrics = this.metrics;
    // Scanners and banned sources get silence for every method, not only REGISTER.
    this.handler = async (req, ctx) => {
      if (registrar.isBanned(ctx.source.address)) {
        metrics.dropped.inc({ reason: 'banned' });
        return null;
      }
      if (registrar.isScanner(req)) {
        metrics.dropped.inc({ reason: 'scanner' });
        return null;
      }
      return base(req, ctx);
    };
    const removeOnClose = sip.registrar.removeOnConnectionClose;
    this.events = {
      connectionClosed: (connectionId: string) => {
        // After stop() the edge closes its connections while the database is going away.
        if (this.stopped) return;
        const subscriptions = this.subscriptions;
        if (subscriptions)
          this.track(subscriptions.connectionClosed(connectionId)).catch((err: unknown) =>
            logger.error({ err, connectionId }, 'removing MWI subscriptions of a closed connection failed'),
          );
        if (!removeOnClose) return;
        this.track(this.lifecycle.removeConnection(connectionId, this.nodeId)).then(
          (n) => {
            if (n > 0) {
              this.metrics.connectionRemovals.inc(n);
              logger.info({ event: 'bindings_connection_closed', connectionId, removed: n }, 'SIP bindings removed: their connection closed');
            }
          },
          (err: unknown) => logger.error({ err, connectionId }, 'removing bindings of a closed connection failed'),
        );
      },
    };
  }

  /**
   * libre (baresip's SIP stack, Debian 1.1) answers a 401 carrying a
   * SHA-256 challenge with ENOSYS ("Register: Function not implemented")
   * instead of skipping it as RFC 8760 §2.4 asks. Those user agents get a
   * registrar whose only challenge is MD5; it shares every store, so
   * nothing else differs.
   */
  private registrarFor(options: ConstructorParameters<typeof Registrar>[0], md5Only: readonly string[]): (req: SipRequest) => Registrar {
    const main = this.registrar;
    const needles = md5Only.map((u) => u.toLowerCase()).filter(Boolean);
    if (!needles.length || (options.algorithms.length === 1 && options.algorithms[0] === 'MD5')) return () => main;
    const md5 = new Registrar({ ...options, algorithms: ['MD5'] });
    return (req) => {
      const ua = req.header('user-agent')?.toLowerCase();
      return ua && needles.some((n) => ua.includes(n)) ? md5 : main;
    };
  }

  isBanned = (address: string): boolean => this.guard.isIpBanned(address);

  /** Opens the hot path's connections, clears this node's leftovers from a previous run, then sweeps expired bindings on an interval. */
  async start(): Promise<void> {
    const { config, logger } = this.deps;
    if (this.pool) await warmPool(this.pool);
    if (config.sip.registrar.removeOnConnectionClose) {
      const n = await this.bindings.removeStaleConnections(this.nodeId);
      if (n) logger.info({ removed: n, nodeId: this.nodeId }, 'SIP bindings of connections from a previous run removed');
    }
    const every = config.sip.registrar.sweepIntervalSeconds * 1000;
    this.sweepTimer = setInterval(() => void this.track(this.sweep()), every);
    this.sweepTimer.unref();
    this.refreshes?.start();
  }

  async sweep(): Promise<number> {
    try {
      const n = await this.lifecycle.sweepExpired(new Date(this.now()));
      if (n) {
        this.metrics.sweeps.inc(n);
        this.deps.logger.debug({ removed: n }, 'expired SIP bindings swept');
      }
      return n;
    } catch (err) {
      this.deps.logger.error({ err }, 'SIP binding sweep failed');
      return 0;
    }
  }

  /** Message-waiting NOTIFYs through the edge's device request port (sip/mwi). */
  async startMwi(port: DeviceRequestPort): Promise<void> {
    const m = this.deps.config.sip.mwi;
    if (!m.enabled || this.mwi) return;
    const subscriptions = new MwiSubscriptions({
      store: new SqlMwiSubscriptionStore(this.deps.db.sequelize, this.deps.db.dialect),
      authenticate: (req, ctx, realm) => this.registrarOf(req).authenticateRequest(req, ctx, realm),
      port,
      nodeId: this.nodeId,
      bounds: { minExpires: m.minExpires, defaultExpires: m.defaultExpires, maxExpires: m.maxExpires },
      concurrency: m.concurrency,
      logger: this.deps.logger,
      now: this.now,
    });
    await subscriptions.start();
    this.subscriptions = subscriptions;
    this.mwi = new MwiNotifier({
      subscriptions,
      sequelize: this.deps.db.sequelize,
      dialect: this.deps.db.dialect,
      port,
      nodeId: this.nodeId,
      pollMs: m.pollMs,
      concurrency: m.concurrency,
      retainSeconds: m.retainSeconds,
      logger: this.deps.logger,
      now: this.now,
    });
    await this.mwi.start();
  }

  /** The edge knows how to send OPTIONS; the sweeper decides which bindings and records the answers. */
  startQualify(sender: QualifySender): void {
    const q = this.deps.config.sip.qualify;
    if (!q.enabled) return;
    this.qualify = new QualifySweeper({
      sequelize: this.deps.db.sequelize,
      dialect: this.deps.db.dialect,
      store: this.bindings,
      sender,
      nodeId: this.nodeId,
      intervalSeconds: q.intervalSeconds,
      tickSeconds: q.tickSeconds,
      batchSize: q.batchSize,
      concurrency: q.concurrency,
      logger: this.deps.logger,
      metrics: this.metrics,
      now: this.now,
      ...(q.removeUnreachable === 'always' || (q.removeUnreachable === 'drachtio' && this.deps.edge === 'drachtio')
        ? { removeUnreachable: (ids: number[], since: Date) => this.lifecycle.removeUnreachable(ids, since) }
        : {}),
    });
    this.qualify.start();
  }

  /** Work that writes to the database; stop() waits for it so the database can close after. */
  private readonly inflight = new Set<Promise<unknown>>();

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Stops the timers, ignores later connection closes, and resolves once in-flight removals, sweeps and probes are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    const qualify = this.qualify?.stop();
    const mwi = Promise.all([this.mwi?.stop(), this.subscriptions?.stop()]);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await Promise.allSettled([qualify, mwi, ...this.inflight]);
    // The edge has stopped taking REGISTERs: what was answered gets written before the pool closes.
    await this.refreshes?.stop();
    await this.guard.flushTrust();
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await endPool(pool);
    if (!this.deps.failureStore) await this.failureStore.close();
  }
}
