import crypto from 'node:crypto';
import type { QualifySender, QualifyTarget } from '../qualify-sender.js';
import type { SipAddress, SipTransportName } from '../../message/types.js';

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
}

interface Pending {
  resolve(reachable: boolean): void;
}

/**
 * OPTIONS qualify over the built-in edge: sent on the connection the
 * binding registered over (TCP/TLS/WS/WSS: the only path to a device behind
 * NAT, RFC 5626 §5.3), or over UDP to the REGISTER's source address and
 * port (RFC 3581: the NAT binding the device keeps open). Responses reach
 * `onResponse` (wire it to the edge's option of that name) and are matched
 * by the top Via branch, which we made unique (RFC 3261 §17.1.3).
 */
export class BuiltinQualifySender implements QualifySender {
  private readonly pending = new Map<string, Pending>();
  private readonly timeoutMs: number;
  private readonly t1: number;
  private edge: BuiltinRequestSender | undefined;

  constructor(options: BuiltinQualifySenderOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.t1 = options.timerT1Ms ?? 500;
  }

  /** The edge is built with our onResponse, so it is attached after construction. */
  attach(edge: BuiltinRequestSender): void {
    this.edge = edge;
  }

  /** True when the response belongs to one of our probes (a SIP worker relays the others to its siblings). */
  readonly onResponse = (text: string, _source: SipAddress, _transport: SipTransportName): boolean => {
    const branch = topViaBranch(text);
    const p = branch ? this.pending.get(branch) : undefined;
    if (!p) return false;
    // Provisional responses do not end a non-INVITE client transaction (RFC 3261 §17.1.2.2).
    if (Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0) >= 200) p.resolve(true);
    return true;
  };

  qualify(target: QualifyTarget): Promise<boolean> {
    const edge = this.edge;
    if (!edge) return Promise.resolve(false);
    const branch = `z9hG4bK-q${crypto.randomBytes(9).toString('hex')}`;
    const text = this.optionsText(edge, target, branch);
    const dest = target.connectionId
      ? { connectionId: target.connectionId }
      : target.transport === 'udp'
        ? { transport: 'udp' as const, ...target.source }
        : undefined;
    // A stream binding whose connection is gone (or on another node) cannot be reached from here.
    if (!dest || !edge.sendRequest(dest, text)) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const done = (reachable: boolean) => {
        for (const t of timers) clearTimeout(t);
        this.pending.delete(branch);
        resolve(reachable);
      };
      this.pending.set(branch, { resolve: done });
      timers.push(setTimeout(() => done(false), this.timeoutMs));
      if (!target.connectionId) {
        // UDP is unreliable: retransmit at T1, 2·T1, 4·T1 … (timer E, capped by T2 = 4 s).
        let at = 0;
        for (let gap = this.t1; at + gap < this.timeoutMs; gap = Math.min(gap * 2, 4000)) {
          at += gap;
          timers.push(setTimeout(() => edge.sendRequest(dest, text), at));
        }
      }
      for (const t of timers) t.unref();
    });
  }

  private optionsText(edge: BuiltinRequestSender, target: QualifyTarget, branch: string): string {
    const via = target.transport.toUpperCase();
    let port: number;
    try {
      port = edge.port(target.transport);
    } catch {
      port = edge.port('udp');
    }
    const host = edge.advertisedHost.includes(':') ? `[${edge.advertisedHost}]` : edge.advertisedHost;
    return [
      `OPTIONS ${target.contactUri} SIP/2.0`,
      `Via: SIP/2.0/${via} ${host}:${port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:switchboard@${host}>;tag=${crypto.randomBytes(6).toString('hex')}`,
      `To: <${target.contactUri}>`,
      `Call-ID: ${crypto.randomBytes(12).toString('hex')}@${host}`,
      'CSeq: 1 OPTIONS',
      'Accept: application/sdp',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }
}

/** The branch parameter of the first Via (compact form `v:` too). */
function topViaBranch(text: string): string | undefined {
  const head = text.split('\r\n\r\n')[0]!;
  const line = head.split('\r\n').find((l) => /^(via|v)\s*:/i.test(l));
  return line ? /;\s*branch=([^;,\s]+)/i.exec(line)?.[1] : undefined;
}
