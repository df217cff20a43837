import { requestText } from './request-text.js';
import crypto from 'node:crypto';
import { HeaderSection } from '../../message/header-section.js';
import { NonInviteClientTransaction } from '../../transactions/non-invite-client-transaction.js';
import { OutboundTimeoutError, type OutboundResponse } from '../../transactions/outbound-request-port.js';
import type { DeviceRequest, DeviceRequestPort, DeviceResponse, DeviceTarget } from '../../registrar/device-request-port.js';
import { deviceResponse, localResponse } from '../../registrar/device-request-port.js';
import type { BuiltinRequestSender } from './builtin-qualify-sender.js';

export interface BuiltinDeviceRequestPortOptions {
  /** RFC 3261 T1 (Timer E starts here on UDP), default 500 ms. */
  t1Ms?: number;
  /** RFC 3261 T2, default 4 s. */
  t2Ms?: number;
  /** Timer F, default 64·T1. A request's own `timeoutMs` wins. */
  timeoutMs?: number;
  /** This process's node id: a target whose `nodeId` differs holds its connection elsewhere. */
  nodeId?: string;
  /**
   * SIP workers: the connection of a stream binding belongs to the worker
   * that accepted it. A request for a connection this process does not
   * hold, whose binding names a sibling node, is handed to this relay
   * (which has that worker send it and brings its answer back).
   */
  relay?: (nodeId: string, request: DeviceRequest) => Promise<DeviceResponse>;
}

interface Pending {
  tx: NonInviteClientTransaction;
  connectionId: string | undefined;
}

/**
 * Requests the registrar originates towards registered devices, over the
 * built-in edge: on the connection the binding registered over (TCP, TLS,
 * WS, WSS: behind NAT the only path to the device, RFC 5626 §5.3; the
 * response comes back on it, RFC 3261 §18.2.2), or over UDP from our
 * listener to the REGISTER's source address (RFC 3581: the NAT binding the
 * device keeps open). Each request is an RFC 3261 §17.1.2 non-INVITE
 * client transaction (Timer E retransmissions on UDP, Timer F), and its
 * responses are matched by the top Via branch we made unique (§17.1.3).
 */
export class BuiltinDeviceRequestPort implements DeviceRequestPort {
  private readonly pending = new Map<string, Pending>();
  private edge: BuiltinRequestSender | undefined;

  constructor(private readonly o: BuiltinDeviceRequestPortOptions = {}) {}

  /** The edge is built with our onResponse, so it is attached after construction. */
  attach(edge: BuiltinRequestSender): void {
    this.edge = edge;
  }

  /** Transactions in progress (for tests and metrics). */
  get inFlight(): number {
    return this.pending.size;
  }

  local(transport: DeviceTarget['transport']): { host: string; port: number } {
    const edge = this.edge;
    if (!edge) return { host: '127.0.0.1', port: 5060 };
    try {
      return { host: edge.advertisedHost, port: edge.port(transport) };
    } catch {
      // No listener of that transport here (a worker that only relays): the UDP one still names us.
      try {
        return { host: edge.advertisedHost, port: edge.port('udp') };
      } catch {
        return { host: edge.advertisedHost, port: 5060 };
      }
    }
  }

  /** True when the response was one of ours (a SIP worker relays the others to its siblings). */
  readonly onResponse = (text: string): boolean => {
    const head = text.split('\r\n\r\n')[0]!;
    const section = HeaderSection.read(head);
    const branch = /;\s*branch=([^;,\s]+)/i.exec(section.get('via')?.[0] ?? '')?.[1];
    const p = branch ? this.pending.get(branch) : undefined;
    if (!p) return false;
    const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(section.startLine);
    if (m) p.tx.receive({ status: Number(m[1]), reason: m[2] ?? '', section });
    return true;
  };

  /** The edge reports a closed connection: its transactions end now (RFC 3261 §17.1.4) instead of at Timer F. */
  connectionClosed(connectionId: string): void {
    for (const p of this.pending.values()) if (p.connectionId === connectionId) p.tx.fail(new Error('connection closed'));
  }

  async send(req: DeviceRequest): Promise<DeviceResponse> {
    const edge = this.edge;
    if (!edge) return localResponse(503, 'Service Unavailable', 'unreachable');
    const target = req.target;
    const branch = `z9hG4bK-d${crypto.randomBytes(9).toString('hex')}`;
    const text = requestText(req, this.local(req.target.transport), branch);
    const connectionId = target.connectionId;
    let transmit: () => boolean;
    if (connectionId) {
      transmit = () => edge.sendRequest({ connectionId }, text);
    } else if (target.transport === 'udp') {
      const dest = { transport: 'udp' as const, address: target.source.address, port: target.source.port };
      transmit = () => edge.sendRequest(dest, text);
    } else {
      // A stream binding without its connection id was registered through a proxy (Path) or on another edge: no path from here.
      return localResponse(503, 'Service Unavailable', 'unreachable');
    }
    if (!transmit()) {
      const relay = this.o.relay;
      if (relay && target.nodeId && target.nodeId !== this.o.nodeId) return relay(target.nodeId, req);
      return localResponse(503, 'Service Unavailable', 'unreachable');
    }
    const t1Ms = this.o.t1Ms ?? 500;
    const timeoutMs = req.timeoutMs ?? this.o.timeoutMs;
    // The first transmission already went out above: the transaction's own first call is skipped.
    let first = true;
    const tx = new NonInviteClientTransaction(
      () => {
        if (first) first = false;
        else transmit();
      },
      connectionId !== undefined,
      { t1Ms, ...(this.o.t2Ms ? { t2Ms: this.o.t2Ms } : {}), ...(timeoutMs ? { timeoutMs } : {}) },
    );
    this.pending.set(branch, { tx, connectionId });
    try {
      const r: OutboundResponse = await tx.start();
      return deviceResponse(r.status, r.reason, (name) => r.section.get(name)?.[0]);
    } catch (err) {
      if (err instanceof OutboundTimeoutError) return localResponse(408, 'Request Timeout', 'timeout');
      return localResponse(503, 'Service Unavailable', 'unreachable');
    } finally {
      this.pending.delete(branch);
    }
  }
}
