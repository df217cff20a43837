import { createRequire } from 'node:module';

/**
 * The parts of drachtio-srf 5 this edge uses, declared here because the
 * package's own typings leave them loose (`locals: any`, `register`
 * untyped, `source_port` typed as a string while lib/request.js parses it
 * to a number). Every member below is checked against lib/srf.js,
 * lib/request.js, lib/response.js and lib/sip-parser/message.js.
 */

/** drachtio-srf's SipMessage (lib/sip-parser/message.js). */
export interface DrachtioSipMessage {
  /** The message text exactly as drachtio-server delivered it (set when built from a string). */
  readonly raw?: string;
  readonly method?: string;
  readonly uri?: string;
  readonly status?: number;
  readonly reason?: string;
  /** Header values keyed by lower-cased name; repeated headers are comma-joined. */
  readonly headers: Record<string, string>;
  get(name: string): string | undefined;
  has(name: string): boolean;
  toString(): string;
}

/**
 * An incoming request (lib/request.js). `meta` comes from the wire
 * protocol leader `sip|source|length|protocol|address|port|time|txnId|dialogId[|recvAddr|recvPort]`.
 */
export interface DrachtioRequest {
  readonly msg: DrachtioSipMessage;
  readonly method: string;
  readonly uri: string;
  /** 'network' for requests from the SIP side. */
  readonly source: string;
  readonly source_address: string;
  /** A number: lib/request.js parses it (5060 when the server sent none). */
  readonly source_port: number;
  /** 'udp' | 'tcp' | 'tls' | 'ws' | 'wss' as drachtio-server reports it. */
  readonly protocol: string;
  /** `address:port` the request arrived on (drachtio-server ≥ 0.8.x); absent on older servers. */
  readonly receivedOn?: string;
  get(name: string): string | undefined;
  has(name: string): boolean;
}

export interface DrachtioSendOptions {
  /** Extra headers; drachtio-server adds Via/From/To(+tag)/Call-ID/CSeq/Content-Length. */
  headers?: Record<string, string>;
  body?: string;
}

/** The response handle for an incoming request (lib/response.js). */
export interface DrachtioResponse {
  /** True once a final response was sent. */
  readonly finalResponseSent: boolean;
  send(status: number, reason: string, opts: DrachtioSendOptions): void;
}

/** A response to a request we sent (srf.request → req 'response' event). */
export interface DrachtioUacResponse {
  readonly status: number;
  readonly reason: string;
  /** A header's value (lib/response.js → SipMessage.get). */
  get?(name: string): string | undefined;
  /** The response as drachtio-server delivered it (lib/response.js sets it before emitting). */
  readonly msg: DrachtioSipMessage;
}

/** The request we sent, as srf.request's callback hands it back. */
export interface DrachtioUacRequest {
  on(event: 'response', listener: (res: DrachtioUacResponse) => void): void;
}

export interface DrachtioRequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send through this hop (`sip:host:port;transport=x`) instead of resolving the Request-URI. */
  proxy?: string;
}

export type DrachtioMiddleware = (req: DrachtioRequest, res: DrachtioResponse) => void;

export interface DrachtioConnectOptions {
  host: string;
  port: number;
  secret: string;
  /** drachtio-srf's own reconnect (lib/wire-protocol.js); we set maxAttempts 1 and reconnect ourselves. */
  reconnect?: { maxAttempts?: number; retryMaxDelay?: number };
}

export interface DrachtioListenOptions {
  host?: string;
  port: number;
  secret: string;
}

/** The Srf instance (lib/srf.js) — only what we call. */
export interface DrachtioSrf {
  connect(opts: DrachtioConnectOptions): unknown;
  /** Returns the net.Server drachtio-server connects to. */
  listen(opts: DrachtioListenOptions): import('node:net').Server;
  disconnect(): void;
  register(handler: DrachtioMiddleware): void;
  options(handler: DrachtioMiddleware): void;
  /** SUBSCRIBE (message-summary), out of dialog and in it: no drachtio-srf Dialog is made, so in-dialog ones come here too. */
  subscribe(handler: DrachtioMiddleware): void;
  request(uri: string, opts: DrachtioRequestOptions, callback: (err: Error | null, req?: DrachtioUacRequest) => void): unknown;
  /** 'connect' fires with (err, hostport) after the secret was accepted or refused. */
  on(event: 'connect', listener: (err: Error | null, hostport?: string) => void): this;
  on(event: 'listening', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  /** The wire-protocol socket to drachtio-server closed. */
  on(event: 'close', listener: () => void): this;
  removeAllListeners(): this;
}

export type DrachtioSrfFactory = () => DrachtioSrf;

const require = createRequire(import.meta.url);

/** A real drachtio-srf `Srf`, typed by the interface above. */
export const createDrachtioSrf: DrachtioSrfFactory = () => {
  const Srf = require('drachtio-srf') as new () => DrachtioSrf;
  return new Srf();
};
