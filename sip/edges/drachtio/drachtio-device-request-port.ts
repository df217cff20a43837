import type { DeviceRequest, DeviceRequestPort, DeviceResponse, DeviceTarget } from '../../registrar/device-request-port.js';
import { deviceResponse, localResponse } from '../../registrar/device-request-port.js';
import type { DrachtioRequestOptions, DrachtioUacRequest, DrachtioUacResponse } from './drachtio-srf-api.js';
import { parseServerEndpoints } from './drachtio-request-adapter.js';

/** What the port needs from the edge (DrachtioSipEdge implements it). */
export interface DrachtioRequestSender {
  /** `onResponse` is attached before the request is handed back, so no response can be missed. */
  request(uri: string, opts: DrachtioRequestOptions, onResponse?: (res: DrachtioUacResponse) => void): Promise<DrachtioUacRequest>;
}

/** `sip:addr:port;transport=x` (IPv6 bracketed, RFC 3261 §19.1.1): the REGISTER's source as next hop. */
export function nextHopUri(binding: DeviceTarget): string {
  const { address, port } = binding.source;
  const host = address.includes(':') ? `[${address}]` : address;
  const scheme = binding.transport === 'tls' || binding.transport === 'wss' ? 'sips' : 'sip';
  const transport = binding.transport === 'tls' ? 'tcp' : binding.transport === 'wss' ? 'ws' : binding.transport;
  return `${scheme}:${host}:${port};transport=${transport}`;
}

export interface DrachtioDeviceRequestPortOptions {
  /**
   * Longest wait for a final response. drachtio-server runs the client
   * transaction (Timer E/F) itself and answers 408 at Timer F; this is the
   * backstop for a request it never reports on. Default 64·T1 + 2 s.
   */
  timeoutMs?: number;
  /** The endpoints drachtio-server announced on connect (`udp/10.0.0.2:5060,tcp/…`): our From/Contact host and port. */
  serverEndpoints?: () => string | undefined;
}

/**
 * Requests to registered devices through drachtio-server (srf.request).
 *
 * Sent to the Request-URI (normally the Contact) through an explicit next
 * hop, the REGISTER's source address and transport, because a contact
 * behind NAT or on a WebSocket (RFC 7118 §5: `*.invalid` hosts) cannot be
 * reached by its own host part; drachtio-server (sofia-sip) reuses the
 * open connection to that address for TCP/TLS/WS/WSS and runs the RFC 3261
 * §17.1.2 transaction (retransmissions, Timer F). Its own 408 (timeout)
 * and 503 (no connection, transport error) come back like a device's; they
 * are reported as ours, since a device's own 408/503 to a NOTIFY or
 * MESSAGE is as good as no answer to the caller.
 */
export class DrachtioDeviceRequestPort implements DeviceRequestPort {
  private readonly timeoutMs: number;
  private readonly serverEndpoints: () => string | undefined;

  constructor(
    private readonly sender: DrachtioRequestSender,
    options: DrachtioDeviceRequestPortOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 64 * 500 + 2000;
    this.serverEndpoints = options.serverEndpoints ?? (() => undefined);
  }

  local(transport: DeviceTarget['transport']): { host: string; port: number } {
    const endpoints = [...parseServerEndpoints(this.serverEndpoints())];
    const pick = endpoints.find(([, t]) => t === transport) ?? endpoints.find(([, t]) => t === 'udp') ?? endpoints[0];
    if (!pick) return { host: '127.0.0.1', port: 5060 };
    const hostport = pick[0];
    const colon = hostport.lastIndexOf(':');
    const host = hostport.slice(0, colon).replace(/^\[|\]$/g, '');
    return { host, port: Number(hostport.slice(colon + 1)) || 5060 };
  }

  send(req: DeviceRequest): Promise<DeviceResponse> {
    const headers: Record<string, string> = { 'Max-Forwards': '70' };
    for (const line of req.headers) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    return new Promise<DeviceResponse>((resolve) => {
      let settled = false;
      const settle = (r: DeviceResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => settle(localResponse(408, 'Request Timeout', 'timeout')), req.timeoutMs ?? this.timeoutMs);
      timer.unref();
      const onResponse = (res: DrachtioUacResponse): void => {
        if (res.status < 200) return;
        if (res.status === 408) settle(localResponse(408, res.reason || 'Request Timeout', 'timeout'));
        else if (res.status === 503) settle(localResponse(503, res.reason || 'Service Unavailable', 'unreachable'));
        else settle(deviceResponse(res.status, res.reason, (name) => res.get?.(name)));
      };
      this.sender
        .request(req.uri, { method: req.method, proxy: nextHopUri(req.target), headers, ...(req.body ? { body: req.body } : {}) }, onResponse)
        .catch(() => settle(localResponse(503, 'Service Unavailable', 'unreachable')));
    });
  }
}
