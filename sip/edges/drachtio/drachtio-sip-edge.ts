import type { Server, Socket } from 'node:net';
import type { SipRequestHandler } from '../../message/types.js';
import type { SipParseLimits } from '../../message/sip-request.js';
import { noopSipLogger, type SipLogger } from '../../sip-logger.js';
import {
  createDrachtioSrf,
  type DrachtioRequest,
  type DrachtioRequestOptions,
  type DrachtioResponse,
  type DrachtioSrf,
  type DrachtioSrfFactory,
  type DrachtioUacRequest,
  type DrachtioUacResponse,
} from './drachtio-srf-api.js';
import { DrachtioRequestAdapter, type DrachtioRequestOutcome } from './drachtio-request-adapter.js';

export type DrachtioMode = 'inbound' | 'outbound';

export interface DrachtioSipEdgeOptions {
  handler: SipRequestHandler;
  /** inbound: we connect to drachtio-server's admin port; outbound: drachtio-server connects to us. */
  mode: DrachtioMode;
  /** drachtio-server admin address (inbound). */
  host: string;
  /** drachtio-server admin port (inbound), 9022 by default on the server. */
  port: number;
  /** Shared secret drachtio-server checks (its `<admin secret=…>`). */
  secret: string;
  /** Where we listen for drachtio-server (outbound); 0 picks a free port. */
  listenHost?: string;
  listenPort?: number;
  /** First reconnect delay; doubles per failed attempt up to reconnectMaxMs. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Longest delay while the outage is younger than reconnectFastWindowMs (a restart), default 2000. */
  reconnectFastMs?: number;
  /** How long after losing drachtio-server (or starting) delays stay at most reconnectFastMs, default 60000. */
  reconnectFastWindowMs?: number;
  logger?: SipLogger;
  limits?: SipParseLimits;
  serverHeader?: string;
  now?: () => number;
  /** Builds the Srf; tests may pass one that wraps the real one. */
  srfFactory?: DrachtioSrfFactory;
  /** Called on every state change (logging, metrics, tests). */
  onStateChange?: (state: DrachtioEdgeState) => void;
  /** Called after each request with its outcome. */
  onOutcome?: (outcome: DrachtioRequestOutcome) => void;
}

export type DrachtioEdgeStatus = 'stopped' | 'connecting' | 'connected' | 'disconnected' | 'listening';

export interface DrachtioEdgeState {
  edge: 'drachtio';
  mode: DrachtioMode;
  status: DrachtioEdgeStatus;
  /** True when SIP can flow: connected (inbound) or listening/connected (outbound). */
  healthy: boolean;
  /** SIP endpoints drachtio-server reported on connect, e.g. `udp/10.0.0.2:5060,tcp/…`. */
  serverEndpoints?: string;
  /** Epoch ms of the last status change. */
  since: number;
  /** Failed connection attempts since the last successful one. */
  failedAttempts: number;
  /** Delay before the next attempt, when one is scheduled. */
  nextRetryMs?: number;
}

/**
 * The drachtio edge: SIP transport, transactions and TLS/WS termination
 * run in drachtio-server; this mounts a SipRequestHandler (the registrar
 * core) on drachtio-srf's REGISTER and OPTIONS routes.
 *
 * Inbound mode reconnects by itself with exponential backoff: drachtio-srf's
 * own reconnect is switched off (maxAttempts 1) because it cannot be
 * bounded below, resets on a TCP connect rather than on an accepted
 * secret, and gives no state to report in /healthz. Each attempt uses a
 * fresh Srf so nothing from a dead connection lingers.
 */
export class DrachtioSipEdge {
  private readonly options: DrachtioSipEdgeOptions;
  private readonly logger: SipLogger;
  private readonly adapter: DrachtioRequestAdapter;
  private readonly now: () => number;
  private readonly factory: DrachtioSrfFactory;
  private srf: DrachtioSrf | undefined;
  private server: Server | undefined;
  private readonly serverSockets = new Set<Socket>();
  private retryTimer: NodeJS.Timeout | undefined;
  private current: DrachtioEdgeState;
  private closeWaiters: Array<() => void> = [];
  /** Epoch ms the current outage began: the connection was lost, or the edge started without one. */
  private outageSince = 0;
  /** The current outage was already logged at warn (later attempts log at debug). */
  private outageLogged = false;
  private lastError: string | undefined;

  constructor(options: DrachtioSipEdgeOptions) {
    this.options = options;
    this.logger = options.logger ?? noopSipLogger;
    this.now = options.now ?? Date.now;
    this.factory = options.srfFactory ?? createDrachtioSrf;
    const adapterOptions: ConstructorParameters<typeof DrachtioRequestAdapter>[0] = {
      handler: options.handler,
      logger: this.logger,
      now: this.now,
      serverEndpoints: () => this.current.serverEndpoints,
    };
    if (options.limits) adapterOptions.limits = options.limits;
    if (options.serverHeader !== undefined) adapterOptions.serverHeader = options.serverHeader;
    this.adapter = new DrachtioRequestAdapter(adapterOptions);
    this.current = { edge: 'drachtio', mode: options.mode, status: 'stopped', healthy: false, since: this.now(), failedAttempts: 0 };
  }

  /**
   * Inbound: starts connecting and returns at once (the process serves HTTP
   * while drachtio-server is still coming up). Outbound: resolves once listening.
   */
  async start(): Promise<void> {
    if (this.current.status !== 'stopped') throw new Error('drachtio edge already started');
    if (this.options.mode === 'inbound') {
      this.outageSince = this.now();
      this.outageLogged = false;
      this.connect();
      return;
    }
    await this.listen();
  }

  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const srf = this.srf;
    const server = this.server;
    const wasConnected = this.current.status === 'connected';
    this.srf = undefined;
    this.server = undefined;
    this.setState({ status: 'stopped', healthy: false, failedAttempts: 0 }, true);
    if (server) {
      for (const s of this.serverSockets) s.destroy();
      this.serverSockets.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return;
    }
    if (srf && wasConnected) {
      const closed = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
      try {
        srf.disconnect();
      } catch {
        return;
      }
      // Bounded: a half-dead peer must not hold shutdown.
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
  }

  state(): DrachtioEdgeState {
    return { ...this.current };
  }

  /** Port we listen on in outbound mode. */
  listeningPort(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('drachtio edge is not listening');
    return address.port;
  }

  /**
   * Send a request out through drachtio-server (OPTIONS qualify, trunk REGISTER). Rejects while disconnected.
   * `onResponse` is attached inside drachtio-srf's callback: drachtio-server's "sent" answer and a quick final
   * response can arrive in one read, and drachtio-srf emits the response before a listener attached after
   * the returned promise settles would exist (it would be lost).
   */
  request(uri: string, opts: DrachtioRequestOptions, onResponse?: (res: DrachtioUacResponse) => void): Promise<DrachtioUacRequest> {
    const srf = this.srf;
    if (!srf || this.current.status !== 'connected') return Promise.reject(new Error('drachtio-server not connected'));
    return new Promise((resolve, reject) => {
      try {
        srf.request(uri, opts, (err, req) => {
          if (err || !req) return reject(err ?? new Error('no request'));
          // drachtio-srf can emit a fast answer in the same socket read as this callback: a listener added after a promise tick would miss it.
          if (onResponse) req.on('response', onResponse);
          resolve(req);
        });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  // --- inbound ---------------------------------------------------------------

  private connect(): void {
    const srf = this.factory();
    this.srf = srf;
    this.mount(srf);
    this.setState({ status: 'connecting', healthy: false });
    srf.on('connect', (err, hostport) => {
      if (srf !== this.srf) {
        // A connection that completed after stop() or after we gave up on it.
        safeDisconnect(srf);
        return;
      }
      if (err) {
        this.lastError = err.message;
        this.logOutage('error', 'drachtio-server refused the connection (check the shared secret)');
        this.lost(srf);
        safeDisconnect(srf);
        return;
      }
      this.logger.info(
        {
          host: this.options.host,
          port: this.options.port,
          endpoints: hostport,
          afterMs: this.now() - this.outageSince,
          failedAttempts: this.current.failedAttempts,
        },
        'connected to drachtio-server',
      );
      this.outageLogged = false;
      this.lastError = undefined;
      const patch: Partial<DrachtioEdgeState> = { status: 'connected', healthy: true, failedAttempts: 0 };
      if (hostport) patch.serverEndpoints = hostport;
      this.setState(patch);
    });
    // Both fire for one failure (socket error then close); lost() ignores the second.
    srf.on('error', (err) => {
      if (srf === this.srf) this.lastError = err.message;
      this.lost(srf);
    });
    srf.on('close', () => {
      this.lost(srf);
      const waiters = this.closeWaiters;
      this.closeWaiters = [];
      for (const w of waiters) w();
    });
    srf.connect({
      host: this.options.host,
      port: this.options.port,
      secret: this.options.secret,
      reconnect: { maxAttempts: 1 },
    });
  }

  private lost(srf: DrachtioSrf): void {
    if (srf !== this.srf) return;
    this.srf = undefined;
    const wasConnected = this.current.status === 'connected';
    if (wasConnected) {
      this.outageSince = this.now();
      this.outageLogged = false;
      this.logOutage('warn', 'disconnected from drachtio-server; reconnecting');
    } else {
      this.logOutage('warn', 'drachtio-server unreachable; retrying');
    }
    const failedAttempts = wasConnected ? 0 : this.current.failedAttempts + 1;
    const delay = reconnectDelay(this.options, failedAttempts, this.now() - this.outageSince);
    this.setState({ status: 'disconnected', healthy: false, failedAttempts, nextRetryMs: delay });
    this.logger.debug({ delayMs: delay, failedAttempts, err: this.lastError }, 'reconnecting to drachtio-server');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  /**
   * One line per outage at `level`, no stack: /healthz already answers 503
   * for as long as it lasts, and a line per attempt would only bury it.
   */
  private logOutage(level: 'warn' | 'error', msg: string): void {
    if (this.outageLogged) return;
    this.outageLogged = true;
    this.logger[level]({ host: this.options.host, port: this.options.port, err: this.lastError }, msg);
  }

  // --- outbound --------------------------------------------------------------

  private async listen(): Promise<void> {
    const srf = this.factory();
    this.srf = srf;
    this.mount(srf);
    srf.on('error', (err) => this.logger.warn({ err: err.message }, 'drachtio-server connection error'));
    srf.on('connect', (err, hostport) => {
      if (err) {
        this.logger.error({ err: err.message }, 'drachtio-server connected with a wrong secret');
        return;
      }
      this.logger.info({ endpoints: hostport }, 'drachtio-server connected');
      const patch: Partial<DrachtioEdgeState> = { status: 'connected', healthy: true };
      if (hostport) patch.serverEndpoints = hostport;
      this.setState(patch);
    });
    srf.on('close', () => {
      if (this.current.status === 'stopped') return;
      this.logger.info({}, 'drachtio-server connection closed');
      this.setState({ status: 'listening', healthy: true });
    });
    const server = srf.listen({ host: this.options.listenHost ?? '0.0.0.0', port: this.options.listenPort ?? 0, secret: this.options.secret });
    this.server = server;
    server.on('connection', (s: Socket) => {
      this.serverSockets.add(s);
      s.once('close', () => this.serverSockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve();
      server.once('listening', () => resolve());
      server.once('error', reject);
    });
    this.logger.info({ port: this.listeningPort() }, 'waiting for drachtio-server connections');
    this.setState({ status: 'listening', healthy: true });
  }

  // --- shared ----------------------------------------------------------------

  private mount(srf: DrachtioSrf): void {
    const dispatch = (req: DrachtioRequest, res: DrachtioResponse): void => {
      void this.adapter.handle(req, res).then(
        (outcome) => this.options.onOutcome?.(outcome),
        (err: unknown) => this.logger.error({ err }, 'drachtio request handling failed'),
      );
    };
    srf.register(dispatch);
    srf.options(dispatch);
    srf.subscribe(dispatch);
  }

  private setState(patch: Partial<DrachtioEdgeState>, force = false): void {
    const next: DrachtioEdgeState = { ...this.current, ...patch };
    if (patch.status !== 'disconnected') delete next.nextRetryMs;
    if (next.status !== 'connected' && patch.serverEndpoints === undefined) delete next.serverEndpoints;
    if (!force && next.status === this.current.status && next.failedAttempts === this.current.failedAttempts) {
      this.current = next;
      return;
    }
    next.since = this.now();
    this.current = next;
    try {
      this.options.onStateChange?.(this.state());
    } catch (err) {
      this.logger.error({ err }, 'onStateChange listener failed');
    }
  }
}

/**
 * Delay before the next attempt. Exponential from reconnectMinMs, but for
 * the first reconnectFastWindowMs of an outage at most reconnectFastMs:
 * most outages are a restart (upgrade, certificate renewal), and a server
 * that is back should not wait for a 16 s backoff slot. A refused TCP
 * connect every 2 s costs drachtio-server nothing; one that stays down past
 * the window gets the full backoff, up to reconnectMaxMs.
 */
export function reconnectDelay(
  o: Pick<DrachtioSipEdgeOptions, 'reconnectMinMs' | 'reconnectMaxMs' | 'reconnectFastMs' | 'reconnectFastWindowMs'>,
  failedAttempts: number,
  outageMs: number,
): number {
  const exponential = o.reconnectMinMs * 2 ** Math.min(Math.max(failedAttempts - 1, 0), 30);
  const fast = outageMs < (o.reconnectFastWindowMs ?? 60_000);
  const cap = fast ? Math.min(o.reconnectFastMs ?? 2000, o.reconnectMaxMs) : o.reconnectMaxMs;
  return Math.min(cap, exponential);
}

function safeDisconnect(srf: DrachtioSrf): void {
  try {
    srf.disconnect();
  } catch {
    // No socket to close: the attempt never got one.
  }
}
