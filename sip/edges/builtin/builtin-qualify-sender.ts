import crypto from 'node:crypto';
import type { QualifySender, QualifyTarget } from '../qualify-sender.js';
import type { SipAddress, SipTransportName } from '../../message/types.js';
import { BuiltinDeviceRequestPort } from './builtin-device-request-port.js';

/** What the sender needs from the built-in edge (BuiltinSipEdge has both). */
export interface BuiltinRequestSender {
  sendRequest(target: { connectionId: string } | { transport: 'udp'; address: string; port: number }, text: string): boolean;
  readonly advertisedHost: string;
  port(transport: SipTransportName): number;
}

export interface BuiltinQualifySenderOptions {
  /** A device that has not answered by then counts as unreachable. Default 3000 ms. */
  timeoutMs?: number;
  /** RFC 3261 T1: first UDP retransmission interval, doubled each time (§17.1.2.2 timer E). Default 500 ms. */
  timerT1Ms?: number;
  /** The edge's device request port to send through; default one of its own (attached with `attach`). */
  port?: BuiltinDeviceRequestPort;
}

/**
 * OPTIONS qualify over the built-in edge: one request of the device request
 * port (the binding's own connection, or its UDP source; Timer E on UDP)
 * with a shorter Timer F. Any final response from the device means it is
 * alive (RFC 3261 §11: even a 4xx/5xx to OPTIONS comes from the UA); the
 * port's own 408/503 (no answer, no path) mean it is not.
 */
export class BuiltinQualifySender implements QualifySender {
  private readonly timeoutMs: number;
  readonly port: BuiltinDeviceRequestPort;
  private readonly ownsPort: boolean;

  constructor(options: BuiltinQualifySenderOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.ownsPort = !options.port;
    this.port = options.port ?? new BuiltinDeviceRequestPort({ t1Ms: options.timerT1Ms ?? 500 });
  }

  /** The edge is built with our onResponse, so it is attached after construction. */
  attach(edge: BuiltinRequestSender): void {
    if (this.ownsPort) this.port.attach(edge);
  }

  /** True when the response belongs to one of our probes (a SIP worker relays the others to its siblings). */
  readonly onResponse = (text: string, _source?: SipAddress, _transport?: SipTransportName): boolean => this.port.onResponse(text);

  async qualify(target: QualifyTarget): Promise<boolean> {
    const { host, port } = this.port.local(target.transport);
    const h = host.includes(':') ? `[${host}]` : host;
    const r = await this.port.send({
      method: 'OPTIONS',
      uri: target.contactUri,
      target,
      timeoutMs: this.timeoutMs,
      headers: [
        `From: <sip:switchboard@${h}:${port}>;tag=${crypto.randomBytes(6).toString('hex')}`,
        `To: <${target.contactUri}>`,
        `Call-ID: ${crypto.randomBytes(12).toString('hex')}@${h}`,
        'CSeq: 1 OPTIONS',
        'Accept: application/sdp',
      ],
    });
    return r.origin === 'device' || r.origin === undefined;
  }
}
