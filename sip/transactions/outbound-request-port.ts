import type { HeaderSection } from '../message/header-section.js';

export type OutboundTransport = 'udp' | 'tcp' | 'tls';

/** Where a request we originate goes (RFC 3263 resolution is the caller's; we take an address). */
export interface OutboundTarget {
  host: string;
  port: number;
  transport: OutboundTransport;
}

/**
 * A request Switchboard originates (REGISTER to a carrier today; MWI NOTIFY and
 * MESSAGE later). The caller owns the dialog-ish headers (From, To, Call-ID,
 * CSeq, Contact, Authorization …); the port adds Via with a fresh branch,
 * Max-Forwards and Content-Length, and runs the client transaction.
 */
export interface OutboundRequest {
  method: string;
  uri: string;
  target: OutboundTarget;
  /** Complete header lines ("Name: value"), without Via, Max-Forwards and Content-Length. */
  headers: string[];
  body?: string;
}

export interface OutboundResponse {
  status: number;
  reason: string;
  section: HeaderSection;
}

/** Timer F fired (RFC 3261 §17.1.2.2): no final response. Callers treat it as a 408. */
export class OutboundTimeoutError extends Error {
  readonly status = 408;
}

/** The request could not be sent at all (no listener for the transport, connection refused). */
export class OutboundTransportError extends Error {
  readonly status = 503;
}

/**
 * The one way the SIP layer sends requests it originates, whatever the edge:
 * the built-in sockets or drachtio-server (srf.request).
 */
export interface OutboundRequestPort {
  /** Host and port our Contact should carry for this transport; null when we cannot send over it. */
  local(transport: OutboundTransport): { host: string; port: number } | null;
  /** Resolves with the final response (1xx are absorbed); rejects with OutboundTimeoutError or OutboundTransportError. */
  send(request: OutboundRequest): Promise<OutboundResponse>;
}
