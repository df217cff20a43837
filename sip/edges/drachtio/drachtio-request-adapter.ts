import type { SipRequestContext, SipRequestHandler, SipResponseSpec, SipTransportName } from '../../message/types.js';
import { ParsedSipRequest, type SipParseLimits } from '../../message/sip-request.js';
import { SipParseError } from '../../message/sip-parse-error.js';
import { noopSipLogger, type SipLogger } from '../../sip-logger.js';
import type { DrachtioRequest, DrachtioResponse, DrachtioSendOptions } from './drachtio-srf-api.js';

const TRANSPORTS: ReadonlySet<string> = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);
const HEADER_NAME = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/**
 * Headers drachtio-server writes itself from the request and its own
 * transaction (Via, From, To with the tag, Call-ID, CSeq, Content-Length):
 * passing them would duplicate or contradict them.
 */
const SERVER_OWNED = new Set(['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'content-length', 'l']);

/**
 * RFC 3261 §7.3.1: these may not be combined into one comma-separated
 * line, yet drachtio-srf keeps one value per header name. Each further
 * value is written as its own line inside the value drachtio-srf
 * serialises (`name: v1\r\nName: v2`), which is what reaches drachtio-server.
 */
const ONE_PER_LINE = new Set(['www-authenticate', 'proxy-authenticate', 'authorization', 'proxy-authorization']);

export const DEFAULT_DRACHTIO_PARSE_LIMITS: SipParseLimits = { maxHeaderBytes: 16_384, maxBodyBytes: 65_536 };

/**
 * The request exactly as drachtio-server delivered it, parsed by the same
 * wrapper the built-in edge uses, so both edges hand the core identical
 * SipRequest values. Throws SipParseError.
 */
export function sipRequestFromDrachtio(req: DrachtioRequest, limits: SipParseLimits = DEFAULT_DRACHTIO_PARSE_LIMITS): ParsedSipRequest {
  const raw = req.msg.raw ?? req.msg.toString();
  return ParsedSipRequest.parse(Buffer.from(raw, 'utf8'), limits);
}

/** Transport name as drachtio-server reports it (`udp`, `tcp`, `tls`, `ws`, `wss`, any case). */
export function transportFromDrachtio(protocol: string): SipTransportName | undefined {
  const p = protocol.toLowerCase();
  return TRANSPORTS.has(p) ? (p as SipTransportName) : undefined;
}

/**
 * The SIP endpoints drachtio-server announces when the application connects
 * (`wss/10.0.0.2:8443,ws/…,tcp/10.0.0.2:5060,udp/…`), keyed by `host:port`.
 */
export function parseServerEndpoints(hostport: string | undefined): Map<string, SipTransportName> {
  const out = new Map<string, SipTransportName>();
  for (const entry of (hostport ?? '').split(',')) {
    const slash = entry.indexOf('/');
    const transport = slash > 0 ? transportFromDrachtio(entry.slice(0, slash).trim()) : undefined;
    if (transport)
      out.set(
        entry
          .slice(slash + 1)
          .trim()
          .toLowerCase(),
        transport,
      );
  }
  return out;
}

/** A WebSocket transport is carried by this stream transport in drachtio-server (sofia-sip). */
const WEBSOCKET_OVER: Partial<Record<SipTransportName, SipTransportName>> = { tcp: 'ws', tls: 'wss' };

/**
 * The transport a request really came over.
 *
 * drachtio-server (0.9.x, sofia-sip) reports a WebSocket request's
 * `protocol` as `tcp` and a secure WebSocket one as `tls`: sofia runs WS
 * inside its TCP/TLS transport and drachtio-server names only that. Every
 * WebSocket rule of the registrar (the MD5-only challenge sip.js and JsSIP
 * need, the expiry cap for connections whose close we never hear of, the
 * transport the registrations API shows) depends on the difference, so the
 * name is taken from the request itself:
 *
 * 1. the listener it arrived on (`receivedOn`) among the endpoints
 *    drachtio-server announced, when it is one of them: drachtio-server
 *    knows which socket accepted the connection, the client cannot fake it;
 * 2. otherwise the top Via, which RFC 7118 §5 has a WebSocket client send
 *    as `SIP/2.0/WS` or `SIP/2.0/WSS`.
 *
 * Either may only turn tcp into ws and tls into wss: a Via never makes a
 * UDP request a WebSocket one, nor a plain one secure.
 */
export function requestTransport(
  reported: SipTransportName,
  topViaTransport: string | undefined,
  receivedOn: string | undefined,
  endpoints: ReadonlyMap<string, SipTransportName>,
): SipTransportName {
  const websocket = WEBSOCKET_OVER[reported];
  if (!websocket) return reported;
  const listener = receivedOn ? endpoints.get(receivedOn.toLowerCase()) : undefined;
  if (listener) return listener === websocket ? websocket : reported;
  return topViaTransport?.toLowerCase() === websocket ? websocket : reported;
}

/**
 * The context for the core. No connectionId: drachtio-server does not tell
 * the application when a TCP/TLS/WS connection closes, so bindings on this
 * edge never end with their connection (see the WS expiry cap and qualify).
 */
export function sipContextFromDrachtio(req: DrachtioRequest, transport: SipTransportName, receivedAt: number): SipRequestContext {
  return {
    transport,
    source: { address: req.source_address, port: req.source_port },
    local: parseHostPort(req.receivedOn),
    receivedAt,
  };
}

/**
 * What res.send needs for a spec: headers drachtio-server owns dropped,
 * repeated list headers (Contact, Path, Warning …) comma-joined per
 * RFC 3261 §7.3.1, authentication challenges one per line.
 */
export function drachtioSendOptions(spec: SipResponseSpec, serverHeader: string): DrachtioSendOptions {
  const byName = new Map<string, { name: string; values: string[] }>();
  const add = (name: string, value: string): void => {
    if (!HEADER_NAME.test(name)) return;
    const key = name.toLowerCase();
    if (SERVER_OWNED.has(key)) return;
    const entry = byName.get(key);
    // A handler may echo client input; never let a value inject a line.
    const clean = value.replace(/[\r\n]+/g, ' ');
    if (entry) entry.values.push(clean);
    else byName.set(key, { name, values: [clean] });
  };
  for (const [name, value] of spec.headers) add(name, value);
  if (serverHeader) add('Server', serverHeader);
  const body = spec.body ?? '';
  if (body.length > 0 && spec.contentType) add('Content-Type', spec.contentType);

  const headers: Record<string, string> = {};
  for (const [key, { name, values }] of byName) {
    headers[name] = ONE_PER_LINE.has(key) ? values.join(`\r\n${name}: `) : values.join(', ');
  }
  const opts: DrachtioSendOptions = { headers };
  if (body.length > 0) opts.body = body;
  return opts;
}

export interface DrachtioRequestAdapterOptions {
  handler: SipRequestHandler;
  logger?: SipLogger;
  limits?: SipParseLimits;
  /** Server header on responses, like the built-in edge; '' omits it. */
  serverHeader?: string;
  now?: () => number;
  /** The endpoints drachtio-server announced on connect (DrachtioEdgeState.serverEndpoints), read per request. */
  serverEndpoints?: () => string | undefined;
}

/** What became of one request; returned for logging and tests. */
export type DrachtioRequestOutcome = { kind: 'answered'; status: number } | { kind: 'unanswered' } | { kind: 'rejected'; status: number; reason: string };

/**
 * Turns drachtio-srf's (req, res) into a core call and the core's spec into
 * res.send. Stateless: drachtio-server runs the transaction layer, so
 * retransmissions never reach us (RFC 3261 §17.2.2 is its job here).
 */
export class DrachtioRequestAdapter {
  private readonly handler: SipRequestHandler;
  private readonly logger: SipLogger;
  private readonly limits: SipParseLimits;
  private readonly serverHeader: string;
  private readonly now: () => number;
  private readonly serverEndpoints: () => string | undefined;
  private endpointsText: string | undefined;
  private endpoints: ReadonlyMap<string, SipTransportName> = new Map();

  constructor(options: DrachtioRequestAdapterOptions) {
    this.handler = options.handler;
    this.logger = options.logger ?? noopSipLogger;
    this.limits = options.limits ?? DEFAULT_DRACHTIO_PARSE_LIMITS;
    this.serverHeader = options.serverHeader ?? 'Switchboard';
    this.now = options.now ?? Date.now;
    this.serverEndpoints = options.serverEndpoints ?? (() => undefined);
  }

  /** Never rejects: every failure becomes a response or a log line. */
  async handle(req: DrachtioRequest, res: DrachtioResponse): Promise<DrachtioRequestOutcome> {
    const receivedAt = this.now();
    const reported = transportFromDrachtio(req.protocol);
    if (!reported) {
      this.logger.error({ protocol: req.protocol }, 'drachtio-server reported an unknown transport');
      return this.reject(res, 500, 'Server Internal Error');
    }
    let request: ParsedSipRequest;
    try {
      request = sipRequestFromDrachtio(req, this.limits);
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      // drachtio-server already rejected what sofia-sip cannot parse; this is our stricter grammar.
      this.logger.debug({ reason: err.message, source: req.source_address, transport: reported }, 'malformed SIP request');
      return this.reject(res, err.status, err.reason);
    }
    const transport = requestTransport(reported, request.topVia.transport, req.receivedOn, this.currentEndpoints());
    const ctx = sipContextFromDrachtio(req, transport, receivedAt);
    let spec: SipResponseSpec | null;
    try {
      spec = await this.handler(request, ctx);
    } catch (err) {
      this.logger.error({ err, method: request.method, callId: request.callId }, 'SIP handler threw');
      spec = { status: 500, reason: 'Server Internal Error', headers: [] };
    }
    if (spec === null) {
      // Same as the built-in edge's silence for a banned UDP source: no
      // answer tells a scanner nothing. drachtio-server gives up on the
      // unanswered server transaction itself after its pending-request
      // timeout (drachtio/drachtio-server#132), so nothing leaks.
      return { kind: 'unanswered' };
    }
    return this.send(res, spec, spec.toTag ? request.section.headers.get('to')?.[0] : undefined);
  }

  private currentEndpoints(): ReadonlyMap<string, SipTransportName> {
    const text = this.serverEndpoints();
    if (text !== this.endpointsText) {
      this.endpointsText = text;
      this.endpoints = parseServerEndpoints(text);
    }
    return this.endpoints;
  }

  private reject(res: DrachtioResponse, status: number, reason: string): DrachtioRequestOutcome {
    this.send(res, { status, reason, headers: [] });
    return { kind: 'rejected', status, reason };
  }

  private send(res: DrachtioResponse, spec: SipResponseSpec, to?: string): DrachtioRequestOutcome {
    if (res.finalResponseSent) return { kind: 'answered', status: spec.status };
    try {
      const opts = drachtioSendOptions(spec, this.serverHeader);
      // drachtio-srf (lib/response.js) takes the tag of a To header the app passes and puts it on the response's To:
      // the dialog's tag must be the one the core will send its NOTIFYs from.
      if (spec.toTag && to && !/;\s*tag\s*=/i.test(to)) opts.headers = { ...opts.headers, To: `${to};tag=${spec.toTag}` };
      res.send(spec.status, spec.reason.replace(/[\r\n]+/g, ' '), opts);
    } catch (err) {
      // Response#send throws on a status sip-status does not know; answer 500 rather than nothing.
      this.logger.error({ err, status: spec.status }, 'drachtio-srf refused the response');
      if (!res.finalResponseSent) res.send(500, 'Server Internal Error', { headers: {} });
      return { kind: 'answered', status: 500 };
    }
    return { kind: 'answered', status: spec.status };
  }
}

function parseHostPort(value: string | undefined): { address: string; port: number } {
  if (!value) return { address: '', port: 0 };
  const colon = value.lastIndexOf(':');
  if (colon < 0) return { address: value, port: 0 };
  const port = Number(value.slice(colon + 1));
  let address = value.slice(0, colon);
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  return { address, port: Number.isInteger(port) ? port : 0 };
}
