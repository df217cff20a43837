import crypto from 'node:crypto';
import type { DeviceRequest, DeviceRequestPort, DeviceResponse, DeviceTarget } from '../sip/registrar/device-request-port.js';
import { localResponse } from '../sip/registrar/device-request-port.js';
import type { DeviceRequestRelay, DeviceResponseRelay } from './sip-worker-messages.js';

/** A SIP worker as the primary sees it. */
export interface WorkerHandle {
  nodeId: string;
  ready: boolean;
  send(m: DeviceRequestRelay): void;
}

export interface PrimaryDevicePortOptions {
  /** The primary's own id in the relay (the node id without a /w suffix): answers addressed to it come back here. */
  nodeId: string;
  workers: () => readonly WorkerHandle[];
  /** Host and port the workers listen on (for the Call-ID host a caller builds). */
  local: (transport: DeviceTarget['transport']) => { host: string; port: number };
  /** Timer F when the request names none (64·T1). */
  timerFMs?: number;
  /** Past Timer F: the worker's own 408 comes back over IPC, a little after its timer. */
  marginMs?: number;
}

interface Waiting {
  worker: string;
  resolve: (r: DeviceResponse) => void;
  timer: NodeJS.Timeout;
}

/**
 * Device requests from the primary of SIP workers, which holds no SIP
 * socket: the HTTP side (an inbound SMS's MESSAGE to the phones) hands each
 * request to a worker over IPC and waits for its answer. A stream binding's
 * connection belongs to the worker that accepted it, so the request goes to
 * that worker (named by the binding's node id); UDP leaves from the shared
 * socket, so any ready worker sends it, the binding's own first. Every send
 * resolves: no ready worker is 503, and a worker that dies or never answers
 * is 408 (at once on its exit, else Timer F plus a margin), never a hang.
 */
export class PrimaryDevicePort implements DeviceRequestPort {
  private readonly waiting = new Map<string, Waiting>();
  private next = 0;

  constructor(private readonly o: PrimaryDevicePortOptions) {}

  local(transport: DeviceTarget['transport']): { host: string; port: number } {
    return this.o.local(transport);
  }

  /** Requests waiting on a worker's answer (tests). */
  get inFlight(): number {
    return this.waiting.size;
  }

  send(request: DeviceRequest): Promise<DeviceResponse> {
    const worker = this.pick(request.target);
    if (!worker) return Promise.resolve(localResponse(503, 'Service Unavailable', 'unreachable'));
    return new Promise<DeviceResponse>((resolve) => {
      const id = crypto.randomBytes(8).toString('hex');
      const timer = setTimeout(
        () => {
          this.waiting.delete(id);
          resolve(localResponse(408, 'Request Timeout', 'timeout'));
        },
        (request.timeoutMs ?? this.o.timerFMs ?? 32_000) + (this.o.marginMs ?? 1000),
      );
      timer.unref();
      this.waiting.set(id, { worker: worker.nodeId, resolve, timer });
      worker.send({ type: 'device-request', id, from: this.o.nodeId, to: worker.nodeId, request });
    });
  }

  /** A worker's answer addressed to the primary; false when it is not one we wait for. */
  receive(m: DeviceResponseRelay): boolean {
    const w = this.waiting.get(m.id);
    if (!w) return false;
    this.settle(m.id, w, { status: m.status, reason: m.reason, origin: m.origin, header: (name) => m.headers[name.toLowerCase()] });
    return true;
  }

  /** The worker exited: what it was sending has no answer coming (the device may or may not have received it). */
  workerGone(nodeId: string): void {
    for (const [id, w] of this.waiting) if (w.worker === nodeId) this.settle(id, w, localResponse(408, 'Request Timeout', 'timeout'));
  }

  /** Shutdown: nothing waits past it. */
  close(): void {
    for (const [id, w] of this.waiting) this.settle(id, w, localResponse(503, 'Service Unavailable', 'unreachable'));
  }

  private settle(id: string, w: Waiting, r: DeviceResponse): void {
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(r);
  }

  private pick(target: DeviceTarget): WorkerHandle | undefined {
    const ready = this.o.workers().filter((w) => w.ready);
    const owner = ready.find((w) => w.nodeId === target.nodeId);
    if (target.connectionId) return owner;
    if (target.transport !== 'udp' || !ready.length) return undefined;
    // A binding of another node or of a worker being restarted: any worker sends UDP as well.
    return owner ?? ready[this.next++ % ready.length];
  }
}
