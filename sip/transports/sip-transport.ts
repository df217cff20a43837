import type { SipAddress, SipTransportName } from '../message/types.js';
import type { HeaderSection } from '../message/header-section.js';
import type { SipParseError } from '../message/sip-parse-error.js';

/**
 * A transport is a protocol name and a way to send. A stream connection is
 * itself a transport (it sends to its peer; `destination` is ignored).
 */
export interface SipTransport {
  readonly protocol: SipTransportName;
  /** A Buffer holds the message already encoded as UTF-8 (a UDP response kept for retransmission). */
  send(data: string | Buffer, destination: SipAddress): void;
}

/** A stream connection (tcp, tls, ws, wss). */
export interface SipConnection extends SipTransport {
  readonly connectionId: string;
  readonly remote: SipAddress;
  readonly local: SipAddress;
  /** Close after flushing what was written. */
  close(): void;
}

/** One message handed from a transport to the edge. */
export interface InboundSipMessage {
  transport: SipTransport;
  protocol: SipTransportName;
  source: SipAddress;
  local: SipAddress;
  connectionId: string | undefined;
  receivedAt: number;
  /**
   * UDP, where the listener can read its receive queue: how long the
   * datagrams still queued behind this one will wait, estimated in ms
   * (sip/transports/receive-queue-gauge.ts).
   */
  queueWaitMs?: number;
  /** A whole datagram or WebSocket message, not yet parsed. */
  bytes?: Buffer;
  /** A stream-framed message: header section already read, body delimited by Content-Length. */
  section?: HeaderSection;
  body?: Buffer;
}

/** What transports call into; implemented by the edge. */
export interface SipMessageSink {
  /** Returns a promise when the message is handled asynchronously, settled once answered (or dropped). */
  onMessage(message: InboundSipMessage): Promise<void> | undefined;
  /**
   * A stream could not be framed (missing/invalid Content-Length, oversize).
   * The edge may answer through `message.transport`; the connection closes after.
   */
  onFramingError(message: InboundSipMessage, error: SipParseError): void;
  onConnectionClosed(connection: SipConnection): void;
}

export interface SipTransportLimits {
  /** Largest UDP datagram processed; bigger ones are dropped. */
  maxDatagramBytes: number;
  /**
   * SO_RCVBUF asked for on UDP listeners (the kernel caps it at
   * net.core.rmem_max; sip.udp.receiveBufferBytes). Linux's default (~208 KB)
   * holds a few hundred REGISTERs: a GC pause or a burst at a few thousand a
   * second overflows it and the phones retransmit 500 ms later. Too large
   * is a cost too: under overload the queue holds more than T1 (500 ms) of
   * work, and every REGISTER in it is retransmitted before it is read.
   */
  udpReceiveBufferBytes: number;
  /** Largest header section accepted on any transport. */
  maxHeaderBytes: number;
  /** Largest body accepted on any transport. */
  maxBodyBytes: number;
  /** Concurrent stream connections from one IP address. */
  maxConnectionsPerIp: number;
  /** Concurrent stream connections in total, per listener. */
  maxConnections: number;
  /** A stream connection with no traffic for this long is closed. */
  idleTimeoutMs: number;
  /** Bytes queued unsent on a connection before it is treated as stuck and closed. */
  maxPendingWriteBytes: number;
}

export const DEFAULT_TRANSPORT_LIMITS: Readonly<SipTransportLimits> = Object.freeze({
  maxDatagramBytes: 65_535,
  udpReceiveBufferBytes: 4 * 1024 * 1024,
  maxHeaderBytes: 16_384,
  maxBodyBytes: 65_536,
  maxConnectionsPerIp: 64,
  maxConnections: 10_000,
  // Longer than the 120 s RFC 5626 §4.4.1 suggests between CRLF keep-alives.
  idleTimeoutMs: 180_000,
  maxPendingWriteBytes: 1_048_576,
});

/** Counters every transport and the edge increment; read with BuiltinSipEdge.stats(). */
export interface SipEdgeCounters {
  messagesReceived: number;
  parseErrors: number;
  dropped: number;
  retransmissions: number;
  responsesSent: number;
  keepAlives: number;
  socketErrors: number;
  connectionsAccepted: number;
  connectionsRejected: number;
  handlerErrors: number;
}

export function newSipEdgeCounters(): SipEdgeCounters {
  return {
    messagesReceived: 0,
    parseErrors: 0,
    dropped: 0,
    retransmissions: 0,
    responsesSent: 0,
    keepAlives: 0,
    socketErrors: 0,
    connectionsAccepted: 0,
    connectionsRejected: 0,
    handlerErrors: 0,
  };
}

/** Shared by every listener of an edge. */
export interface TransportEnvironment {
  sink: SipMessageSink;
  limits: SipTransportLimits;
  counters: SipEdgeCounters;
  logger: import('../sip-logger.js').SipLogger;
  isBanned: (address: string) => boolean;
}

/** `::ffff:192.0.2.1` → `192.0.2.1`, so dual-stack sockets report the address the peer used. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

let connectionSeq = 0;
const connectionPrefix = Math.floor(Math.random() * 0xffffffff).toString(36);

/** A connection id unique in this process and unlikely to repeat across restarts. */
export function nextConnectionId(protocol: SipTransportName): string {
  connectionSeq += 1;
  return `${protocol}-${connectionPrefix}-${connectionSeq.toString(36)}`;
}
