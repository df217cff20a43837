/**
 * The contract between SIP edges (built-in sockets, drachtio-srf) and the
 * registrar core. The core sees only these types: it never touches a socket,
 * so both edges mount the same core (DESIGN.md "SIP edge, two ways, one core").
 */

export type SipTransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface SipAddress {
  address: string;
  port: number;
}

/** Where a request came from and how; filled in by the edge. */
export interface SipRequestContext {
  transport: SipTransportName;
  source: SipAddress;
  local: SipAddress;
  /** Stable id of the stream connection (tcp/tls/ws/wss) the request arrived on; absent for udp. */
  connectionId?: string;
  /** Epoch milliseconds when the edge received the request. */
  receivedAt: number;
  /**
   * How long the requests queued in the kernel behind this one will wait
   * to be read, estimated in ms; absent where the edge cannot tell (stream
   * transports, the drachtio edge, a UDP socket bound without the addon).
   */
  queueWaitMs?: number;
}

/** A name-addr/addr-spec as it appears in From/To/Contact, kept verbatim where RFC 3261 wants exact matches. */
export interface SipNameAddr {
  displayName?: string;
  /** The URI exactly as received, without the enclosing <>. */
  uri: string;
  /** Header parameters (after the URI), names lower-cased, values verbatim (quotes kept); `null` for a flag parameter. */
  params: Record<string, string | null>;
}

/** One Contact header entry of a REGISTER. */
export interface SipContact extends SipNameAddr {
  /** The whole contact-param text exactly as received, e.g. `<sip:a@b;x=1>;expires=30;+sip.instance="<urn:...>"`. */
  raw: string;
}

export interface SipCSeq {
  seq: number;
  method: string;
}

/** A parsed SIP request. Built by the edge's parser wrapper (sip/message/sip-request.ts). */
export interface SipRequest {
  readonly method: string;
  readonly uri: string;
  readonly callId: string;
  readonly cseq: SipCSeq;
  readonly from: SipNameAddr;
  readonly to: SipNameAddr;
  /** First value of a header (case-insensitive, compact forms understood), undefined when absent. */
  header(name: string): string | undefined;
  /** Every value of a header, comma-separated lists split into entries. */
  headerValues(name: string): string[];
  /** Contact entries; '*' for the wildcard; [] when there is no Contact header. */
  contacts(): SipContact[] | '*';
  readonly body: string;
}

/** What the core answers; the edge adds Via/From/To-tag/Call-ID/CSeq/Content-Length itself. */
export interface SipResponseSpec {
  status: number;
  reason: string;
  /** Extra headers in order; repeated names allowed (e.g. several Contact). */
  headers: Array<[name: string, value: string]>;
  body?: string;
  contentType?: string;
  /**
   * Our To tag when the response creates a dialog (a SUBSCRIBE's 200, RFC 6665 §4.2.1): the core
   * must know it to send the NOTIFYs of that dialog. Absent: the edge picks a random one.
   */
  toTag?: string;
  /**
   * Answer statelessly (RFC 3261 §8.2.7): the edge keeps no transaction, so
   * a retransmitted request is handled again rather than matched, and the
   * To tag is derived from the request so that every answer to it carries
   * the same one. Only for answers that are cheap to repeat and change no
   * state: a registrar's challenge to a request without credentials, which
   * every registration starts with, so its transaction no longer waits
   * Timer J (32 s on UDP) in memory.
   */
  stateless?: boolean;
}

export type SipRequestHandler = (req: SipRequest, ctx: SipRequestContext) => Promise<SipResponseSpec | null>;

/** Edge → core notifications that are not requests. */
export interface SipEdgeEvents {
  /** A stream connection closed (peer went away, idle timeout, protocol error). */
  connectionClosed(connectionId: string): void;
}
