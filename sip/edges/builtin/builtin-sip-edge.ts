import type { SipAddress, SipEdgeEvents, SipRequestContext, SipRequestHandler, SipResponseSpec, SipTransportName } from '../../message/types.js';
import { ParsedSipRequest } from '../../message/sip-request.js';
import { SipParseError } from '../../message/sip-parse-error.js';
import { buildResponse, responseBasisOf, salvageResponseBasis, statelessToTag } from '../../message/response-builder.js';
import { ServerTransactionTable, transactionKey } from '../../transactions/server-transaction-table.js';
import { RetainedResponses } from '../../transactions/retained-responses.js';
import { noopSipLogger, type SipLogger } from '../../sip-logger.js';
import {
  DEFAULT_TRANSPORT_LIMITS,
  newSipEdgeCounters,
  type InboundSipMessage,
  type SipConnection,
  type SipEdgeCounters,
  type SipMessageSink,
  type SipTransportLimits,
  type TransportEnvironment,
} from '../../transports/sip-transport.js';
import { UdpTransport } from '../../transports/udp-transport.js';
import type { UdpSocketAddon } from '../../transports/udp-socket-addon.js';
import { StreamTransport, type TlsFiles } from '../../transports/stream-transport.js';
import { WebSocketTransport } from '../../transports/websocket-transport.js';

export interface SipListenerOptions {
  transport: SipTransportName;
  /** Bind address; default the edge's `host`. An IPv6 address makes a UDP listener udp6. */
  host?: string;
  /** Bind port; 0 picks a free one (read it back with `boundAddresses()`). Default 5060/5061/80/443. */
  port?: number;
  /** false keeps the listener configured but not started. */
  enabled?: boolean;
  /** Certificate and key for tls and wss. */
  tls?: TlsFiles;
  /** UDP: bind through the native addon (see udp-socket-addon.ts), which also measures the receive queue. */
  addon?: UdpSocketAddon;
  /** UDP, with the addon: a socket of this process's own bound with SO_REUSEPORT (SIP workers). */
  reusePort?: boolean;
}

export interface BuiltinSipEdgeOptions {
  handler: SipRequestHandler;
  listeners: SipListenerOptions[];
  /** Default bind address for listeners that name none. */
  host?: string;
  /** Host we put in our own Via/Contact when we send requests; default the bind address. */
  advertisedHost?: string;
  events?: SipEdgeEvents;
  logger?: SipLogger;
  limits?: Partial<SipTransportLimits>;
  /** Banned sources: UDP gets silence, stream connections are closed. */
  isBanned?: (address: string) => boolean;
  /** Server header on responses; '' omits it. */
  serverHeader?: string;
  /** RFC 3261 T1 in ms (Timer J = 64*T1 on UDP). Default 500. */
  timerT1Ms?: number;
  /** Most transactions remembered for retransmission matching (sip.transactions.maxEntries). Default 16384. */
  maxTransactions?: number;
  /**
   * Answer UDP requests at the source port even without `rport`. RFC 3261
   * §18.2.2 says to use the Via sent-by port, but phones behind NAT send
   * without rport and never hear that port; PBXs default to forcing rport.
   * Default true.
   */
  forceRport?: boolean;
  /** Responses that arrive (e.g. to our OPTIONS qualify); dropped when absent. */
  onResponse?: (text: string, source: SipAddress, transport: SipTransportName) => void;
}

export interface BoundSipListener {
  transport: SipTransportName;
  address: string;
  port: number;
  /** UDP: the socket's receive buffer as the kernel reports it (UdpTransport.receiveBufferBytes). */
  receiveBufferBytes?: number;
}

const DEFAULT_PORTS: Record<SipTransportName, number> = { udp: 5060, tcp: 5060, tls: 5061, ws: 80, wss: 443 };
const SIP_RESPONSE_PREFIX = Buffer.from('SIP/');

type Listener =
  | { transport: 'udp'; impl: UdpTransport; bound: BoundSipListener }
  | { transport: 'tcp' | 'tls'; impl: StreamTransport; bound: BoundSipListener }
  | { transport: 'ws' | 'wss'; impl: WebSocketTransport; bound: BoundSipListener };

/**
 * The built-in SIP edge: Node sockets for UDP, TCP, TLS, WS and WSS, the
 * non-INVITE server transaction layer, and the handler call. The handler
 * (the registrar core) sees only parsed requests and returns specs.
 */
export class BuiltinSipEdge implements SipMessageSink {
  private readonly options: BuiltinSipEdgeOptions;
  private readonly logger: SipLogger;
  private readonly counters: SipEdgeCounters = newSipEdgeCounters();
  private readonly limits: SipTransportLimits;
  private readonly transactions: ServerTransactionTable;
  private readonly retained = new RetainedResponses();
  private readonly serverHeader: string;
  private readonly forceRport: boolean;
  private listeners: Listener[] = [];
  private readonly connections = new Map<string, SipConnection>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(options: BuiltinSipEdgeOptions) {
    this.options = options;
    this.logger = options.logger ?? noopSipLogger;
    this.limits = { ...DEFAULT_TRANSPORT_LIMITS, ...options.limits };
    this.serverHeader = options.serverHeader ?? 'Switchboard';
    this.forceRport = options.forceRport ?? true;
    this.transactions = new ServerTransactionTable({
      maxEntries: options.maxTransactions ?? 16_384,
      timerT1Ms: options.timerT1Ms ?? 500,
    });
  }

  /** Start every enabled listener; resolves when all are bound. On failure, stops what started. */
  async start(): Promise<void> {
    if (this.running) throw new Error('SIP edge already started');
    this.running = true;
    const env: TransportEnvironment = {
      sink: this,
      limits: this.limits,
      counters: this.counters,
      logger: this.logger,
      isBanned: this.options.isBanned ?? (() => false),
    };
    try {
      for (const l of this.options.listeners) {
        if (l.enabled === false) continue;
        const host = l.host ?? this.options.host ?? '0.0.0.0';
        const port = l.port ?? DEFAULT_PORTS[l.transport];
        if (l.transport === 'udp') {
          const impl = new UdpTransport(host.includes(':') ? 'udp6' : 'udp4', env);
          const bound = await impl.listen(host, port, { addon: l.addon, reusePort: l.reusePort === true });
          this.listeners.push({ transport: 'udp', impl, bound: { transport: 'udp', ...bound, receiveBufferBytes: impl.receiveBufferBytes } });
        } else if (l.transport === 'tcp' || l.transport === 'tls') {
          const impl = new StreamTransport(l.transport, env, l.tls);
          this.listeners.push({ transport: l.transport, impl, bound: { transport: l.transport, ...(await impl.listen(host, port)) } });
        } else {
          const impl = new WebSocketTransport(l.transport, env, l.tls);
          this.listeners.push({ transport: l.transport, impl, bound: { transport: l.transport, ...(await impl.listen(host, port)) } });
        }
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    const sweepEvery = Math.max(100, (this.options.timerT1Ms ?? 500) * 2);
    this.sweepTimer = setInterval(() => this.transactions.sweep(Date.now()), sweepEvery);
    this.sweepTimer.unref();
    for (const b of this.boundAddresses()) this.logger.info({ ...b }, 'SIP listener started');
  }

  /** Close every socket and connection; resolves when all are closed. */
  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const listeners = this.listeners;
    this.listeners = [];
    await Promise.all(listeners.map((l) => l.impl.stop()));
    this.transactions.clear();
    this.running = false;
  }

  /** The addresses actually bound (port 0 resolved). */
  boundAddresses(): BoundSipListener[] {
    return this.listeners.map((l) => ({ ...l.bound }));
  }

  /** Port of the first listener of a transport (and address family, when given). */
  port(transport: SipTransportName, family?: 4 | 6): number {
    const found = this.listeners.find((l) => l.transport === transport && (family === undefined || (family === 6) === l.bound.address.includes(':')));
    if (!found) throw new Error(`no ${transport} listener`);
    return found.bound.port;
  }

  /** Host to put in our Via/Contact when sending. */
  get advertisedHost(): string {
    return this.options.advertisedHost ?? this.listeners[0]?.bound.address ?? '127.0.0.1';
  }

  stats(): SipEdgeCounters & { transactions: number; connections: number } {
    return { ...this.counters, transactions: this.transactions.size, connections: this.connections.size };
  }

  /**
   * Send a request we originate (OPTIONS qualify): over an existing stream
   * connection by id, or from our UDP listener to an address. Returns false
   * when there is no way to send it.
   */
  sendRequest(target: { connectionId: string } | { transport: 'udp'; address: string; port: number }, text: string): boolean {
    if ('connectionId' in target) {
      const connection = this.connections.get(target.connectionId);
      if (!connection) return false;
      connection.send(text, connection.remote);
      return true;
    }
    const v6 = target.address.includes(':');
    const udp = this.listeners.find((l) => l.transport === 'udp' && l.bound.address.includes(':') === v6);
    if (!udp || udp.transport !== 'udp') return false;
    udp.impl.send(text, { address: target.address, port: target.port });
    return true;
  }

  // --- SipMessageSink -------------------------------------------------------

  onMessage(message: InboundSipMessage): Promise<void> | undefined {
    this.counters.messagesReceived += 1;
    if (message.connectionId !== undefined && !this.connections.has(message.connectionId)) {
      this.connections.set(message.connectionId, message.transport as SipConnection);
    }
    let request: ParsedSipRequest;
    try {
      if (message.bytes) {
        if (message.bytes.subarray(0, 4).equals(SIP_RESPONSE_PREFIX)) {
          this.onResponseReceived(message);
          return undefined;
        }
        request = ParsedSipRequest.parse(message.bytes, this.limits);
      } else {
        if (message.section!.startLine.startsWith('SIP/')) {
          this.onResponseReceived(message);
          return undefined;
        }
        request = ParsedSipRequest.fromSection(message.section!, message.body!);
      }
    } catch (err) {
      this.rejectUnparsable(message, err);
      return undefined;
    }
    return this.process(request, message).catch((err: unknown) => {
      this.counters.handlerErrors += 1;
      this.logger.error({ err }, 'SIP request processing failed');
    });
  }

  onFramingError(message: InboundSipMessage, error: SipParseError): void {
    this.rejectUnparsable(message, error);
  }

  onConnectionClosed(connection: SipConnection): void {
    this.connections.delete(connection.connectionId);
    try {
      this.options.events?.connectionClosed(connection.connectionId);
    } catch (err) {
      this.logger.error({ err }, 'connectionClosed listener failed');
    }
  }

  // --- request path ---------------------------------------------------------

  private async process(request: ParsedSipRequest, message: InboundSipMessage): Promise<void> {
    // RFC 3261 §17.1.1.3 / §17.2.1: an ACK is never answered.
    if (request.method === 'ACK') return;
    const ctx: SipRequestContext = {
      transport: message.protocol,
      source: message.source,
      local: message.local,
      receivedAt: message.receivedAt,
    };
    if (message.connectionId !== undefined) ctx.connectionId = message.connectionId;
    if (message.queueWaitMs !== undefined) ctx.queueWaitMs = message.queueWaitMs;
    const reliable = message.protocol !== 'udp';
    const key = transactionKey(request, ctx);
    const outcome = this.transactions.receive(key, message.receivedAt);
    if (outcome.kind === 'retransmission') {
      // RFC 3261 §17.2.2: the transaction absorbs the retransmission; the TU never sees it.
      this.counters.retransmissions += 1;
      const cached = outcome.transaction.retransmissionResponse();
      if (cached !== undefined) this.reply(message, request, cached);
      return;
    }
    let spec: SipResponseSpec | null;
    try {
      spec = await this.options.handler(request, ctx);
    } catch (err) {
      this.counters.handlerErrors += 1;
      this.logger.error({ err, method: request.method, callId: request.callId }, 'SIP handler threw');
      spec = { status: 500, reason: 'Server Internal Error', headers: [] };
    }
    if (spec === null) {
      this.counters.dropped += 1;
      this.transactions.complete(outcome.transaction, undefined, Date.now(), reliable);
      return;
    }
    if (spec.stateless) {
      this.transactions.release(outcome.transaction);
      const text = buildResponse(responseBasisOf(request), { ...spec, toTag: spec.toTag ?? statelessToTag(key) }, this.responseOptions(message));
      this.reply(message, request, text);
      return;
    }
    const text = buildResponse(responseBasisOf(request), spec, this.responseOptions(message));
    // A UDP response waits Timer J (32 s) for retransmissions: kept as bytes off the JS heap, and sent from them.
    const wire = reliable ? text : this.retained.copy(text);
    this.transactions.complete(outcome.transaction, wire, Date.now(), reliable);
    this.reply(message, request, wire);
  }

  private responseOptions(message: InboundSipMessage): { source: InboundSipMessage['source']; serverHeader: string } {
    return { source: message.source, serverHeader: this.serverHeader };
  }

  private reply(message: InboundSipMessage, request: ParsedSipRequest | undefined, text: string | Buffer): void {
    this.counters.responsesSent += 1;
    if (message.protocol !== 'udp') {
      message.transport.send(text, message.source);
      return;
    }
    // RFC 3581 §4: with rport, answer to the source IP and port. RFC 3261
    // §18.2.2 otherwise: the source IP (received) and the sent-by port.
    let port = message.source.port;
    if (request && !this.forceRport) {
      const via = request.topVia;
      if (!via.params.some(([name]) => name === 'rport')) port = via.port ?? 5060;
    }
    message.transport.send(text, { address: message.source.address, port });
  }

  private rejectUnparsable(message: InboundSipMessage, err: unknown): void {
    this.counters.parseErrors += 1;
    if (!(err instanceof SipParseError)) {
      this.logger.error({ err }, 'SIP parser threw an unexpected error');
      return;
    }
    this.logger.debug({ reason: err.message, source: message.source, transport: message.protocol }, 'malformed SIP request');
    const basis = err.section ? salvageResponseBasis(err.section) : undefined;
    if (!basis) {
      this.counters.dropped += 1;
      return;
    }
    const text = buildResponse(basis, { status: err.status, reason: err.reason, headers: [] }, this.responseOptions(message));
    this.reply(message, undefined, text);
  }

  private onResponseReceived(message: InboundSipMessage): void {
    const onResponse = this.options.onResponse;
    if (!onResponse) {
      this.counters.dropped += 1;
      return;
    }
    // Stream framing already split the header section: rebuild the text (one line per header) for the listener.
    const text = message.bytes ? message.bytes.toString('utf8') : sectionText(message.section!);
    try {
      onResponse(text, message.source, message.protocol);
    } catch (err) {
      this.logger.error({ err }, 'onResponse listener failed');
    }
  }
}

function sectionText(section: { startLine: string; headers: Map<string, string[]> }): string {
  const lines = [section.startLine];
  for (const [name, values] of section.headers) for (const v of values) lines.push(`${name}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
