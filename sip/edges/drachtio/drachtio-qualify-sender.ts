import type { QualifySender, QualifyTarget } from '../qualify-sender.js';
import type { DrachtioRequestOptions, DrachtioUacRequest, DrachtioUacResponse } from './drachtio-srf-api.js';

/** What the qualify sender needs from the edge (DrachtioSipEdge implements it). */
export interface DrachtioRequestSender {
  /** `onResponse` is attached before drachtio-srf can emit the first response (see DrachtioSipEdge.request). */
  request(uri: string, opts: DrachtioRequestOptions, onResponse?: (res: DrachtioUacResponse) => void): Promise<DrachtioUacRequest>;
}

export interface DrachtioQualifySenderOptions {
  /** A device that has not answered by then counts as unreachable. Default 5000 ms. */
  timeoutMs?: number;
}

/**
 * OPTIONS qualify through drachtio-server (srf.request).
 *
 * The request goes to the Contact URI but through an explicit next hop —
 * the REGISTER's source address and transport — because a contact behind
 * NAT or on a WebSocket (RFC 7118 §5: `*.invalid` hosts) is unreachable by
 * its own host part; drachtio-server (sofia-sip) reuses the open
 * connection to that address for TCP/TLS/WS/WSS.
 *
 * Any final response means the device is alive (RFC 3261 §11: even 4xx/5xx
 * to OPTIONS comes from the UA), except 408 and 503, which drachtio-server
 * generates itself on timeout and on a transport failure (no connection).
 */
export class DrachtioQualifySender implements QualifySender {
  private readonly sender: DrachtioRequestSender;
  private readonly timeoutMs: number;

  constructor(sender: DrachtioRequestSender, options: DrachtioQualifySenderOptions = {}) {
    this.sender = sender;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  qualify(binding: QualifyTarget): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (reachable: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(reachable);
      };
      const timer = setTimeout(() => settle(false), this.timeoutMs);
      timer.unref();
      this.sender
        .request(binding.contactUri, { method: 'OPTIONS', proxy: nextHopUri(binding), headers: { 'Max-Forwards': '70' } }, (res) => {
          if (res.status >= 200) settle(res.status !== 408 && res.status !== 503);
        })
        .catch(() => settle(false));
    });
  }
}

/** `sip:addr:port;transport=x` (IPv6 bracketed, RFC 3261 §19.1.1). */
export function nextHopUri(binding: QualifyTarget): string {
  const { address, port } = binding.source;
  const host = address.includes(':') ? `[${address}]` : address;
  const scheme = binding.transport === 'tls' || binding.transport === 'wss' ? 'sips' : 'sip';
  const transport = binding.transport === 'tls' ? 'tcp' : binding.transport === 'wss' ? 'ws' : binding.transport;
  return `${scheme}:${host}:${port};transport=${transport}`;
}
