import crypto from 'node:crypto';
import type { DeviceRequest, DeviceRequestPort, DeviceResponse } from '../sip/registrar/device-request-port.js';
import { localResponse } from '../sip/registrar/device-request-port.js';
import type { DeviceRequestRelay, DeviceResponseRelay, SipWorkerMessage } from './sip-worker-messages.js';

/** Response headers a relayed answer carries (a DeviceResponse cannot list its own). */
const RELAYED_HEADERS = [
  'to',
  'from',
  'call-id',
  'cseq',
  'contact',
  'retry-after',
  'allow',
  'supported',
  'accept',
  'warning',
  'server',
  'user-agent',
  'expires',
  'event',
  'subscription-state',
  'content-type',
];

/**
 * With SIP workers a stream connection belongs to the worker that
 * accepted it. A worker that must send a device request on a connection
 * it does not hold hands it to the primary (IPC), which passes it to the
 * owner; the owner sends it through its own port and the answer comes
 * back the same way. Timer F still bounds the wait: no answer from the
 * owner (it died) is a 408 like any other silence.
 */
export class WorkerDeviceRelay {
  private readonly waiting = new Map<string, { resolve: (r: DeviceResponse) => void; timer: NodeJS.Timeout }>();
  private port: DeviceRequestPort | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly toPrimary: (m: SipWorkerMessage) => void,
    private readonly timerFMs = 32_000,
  ) {}

  /** This worker's own port answers the siblings' requests. */
  serveWith(port: DeviceRequestPort): void {
    this.port = port;
  }

  readonly send = (to: string, request: DeviceRequest): Promise<DeviceResponse> =>
    new Promise<DeviceResponse>((resolve) => {
      const id = crypto.randomBytes(8).toString('hex');
      const timer = setTimeout(
        () => {
          this.waiting.delete(id);
          resolve(localResponse(408, 'Request Timeout', 'timeout'));
        },
        (request.timeoutMs ?? this.timerFMs) + 1000,
      );
      timer.unref();
      this.waiting.set(id, { resolve, timer });
      this.toPrimary({ type: 'device-request', id, from: this.nodeId, to, request });
    });

  receive(m: DeviceRequestRelay | DeviceResponseRelay): void {
    if (m.type === 'device-response') {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      clearTimeout(w.timer);
      const headers = m.headers;
      w.resolve({ status: m.status, reason: m.reason, origin: m.origin, header: (name) => headers[name.toLowerCase()] });
      return;
    }
    const port = this.port;
    const answer = (r: DeviceResponse) => {
      const headers: Record<string, string> = {};
      for (const h of RELAYED_HEADERS) {
        const v = r.header(h);
        if (v !== undefined) headers[h] = v;
      }
      this.toPrimary({ type: 'device-response', id: m.id, to: m.from, status: r.status, reason: r.reason, origin: r.origin ?? 'device', headers });
    };
    if (!port) return answer(localResponse(503, 'Service Unavailable', 'unreachable'));
    // The target names this worker, so the port sends it here or answers 503: it never relays it back.
    void port.send(m.request).then(answer);
  }
}
