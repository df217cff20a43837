import { HeaderSection } from '../../message/header-section.js';
import {
  OutboundTimeoutError,
  OutboundTransportError,
  type OutboundRequest,
  type OutboundRequestPort,
  type OutboundResponse,
  type OutboundTransport,
} from '../../transactions/outbound-request-port.js';
import type { DrachtioRequestSender } from './drachtio-qualify-sender.js';
import type { DrachtioRequestOptions } from './drachtio-srf-api.js';

/** What the port needs from the edge (DrachtioSipEdge implements it). */
export interface DrachtioOutboundSender extends DrachtioRequestSender {
  /** The endpoints drachtio-server announced on connect (`udp/10.0.0.2:5060,tcp/…`); undefined while disconnected. */
  state(): { serverEndpoints?: string | undefined };
}

export interface DrachtioRequestPortOptions {
  /** Give up waiting for a final response after this long (drachtio-server's own Timer F is 32 s). */
  timeoutMs?: number;
}

/**
 * Requests we originate, through drachtio-server (srf.request). There the
 * server's SIP stack owns the client transaction (§17.1.2: Via and its
 * branch, retransmissions, Timer F) and the transport (it opens or reuses
 * the TCP/TLS connection to the target); we hand it the Request-URI and
 * our headers. Our From tag, Call-ID and CSeq go through unchanged, which
 * the trunk's registration needs (§10.2.4: one Call-ID, rising CSeq).
 *
 * Contacts name drachtio-server's own listener for the transport (from the
 * endpoints it announced), since responses and later requests from the
 * carrier reach drachtio-server, not this process.
 */
export class DrachtioRequestPort implements OutboundRequestPort {
  constructor(
    private readonly edge: DrachtioOutboundSender,
    private readonly o: DrachtioRequestPortOptions = {},
  ) {}

  local(transport: OutboundTransport): { host: string; port: number } | null {
    const text = this.edge.state().serverEndpoints;
    if (!text) return null;
    for (const entry of text.split(',')) {
      const slash = entry.indexOf('/');
      if (slash < 0 || entry.slice(0, slash).trim().toLowerCase() !== transport) continue;
      const hostport = entry.slice(slash + 1).trim();
      const colon = hostport.lastIndexOf(':');
      const port = Number(hostport.slice(colon + 1));
      if (colon <= 0 || !Number.isInteger(port) || port <= 0) continue;
      return { host: hostport.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
    }
    return null;
  }

  async send(req: OutboundRequest): Promise<OutboundResponse> {
    const headers: Record<string, string> = {};
    for (const line of req.headers) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      // drachtio-server 0.9.10 dies (SIGSEGV) on a request with `Contact: *`: never hand it one.
      if (name.toLowerCase() === 'contact' && value === '*') throw new OutboundTransportError('drachtio-server cannot send a wildcard Contact');
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const opts: DrachtioRequestOptions = { method: req.method, headers };
    if (req.body) opts.body = req.body;
    const timeoutMs = this.o.timeoutMs ?? 32_000;
    let settle!: (r: OutboundResponse | Error) => void;
    const done = new Promise<OutboundResponse>((resolve, reject) => {
      settle = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
    });
    const timer = setTimeout(() => settle(new OutboundTimeoutError(`no final response within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    this.edge
      .request(req.uri, opts, (res) => {
        if (res.status < 200) return;
        const text = res.msg.raw ?? res.msg.toString();
        settle({ status: res.status, reason: res.reason, section: HeaderSection.read(text.split('\r\n\r\n')[0]!) });
      })
      .catch((err: unknown) =>
        settle(new OutboundTransportError(`drachtio-server did not send the ${req.method}: ${err instanceof Error ? err.message : String(err)}`)),
      );
    return done;
  }
}
