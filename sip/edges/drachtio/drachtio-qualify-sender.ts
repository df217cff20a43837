import type { QualifySender, QualifyTarget } from '../qualify-sender.js';
import { DrachtioDeviceRequestPort, type DrachtioRequestSender } from './drachtio-device-request-port.js';

export { nextHopUri, type DrachtioRequestSender } from './drachtio-device-request-port.js';

export interface DrachtioQualifySenderOptions {
  /** A device that has not answered by then counts as unreachable. Default 5000 ms. */
  timeoutMs?: number;
}

/**
 * OPTIONS qualify through drachtio-server: one request of the device
 * request port (srf.request via the REGISTER's source as next hop).
 *
 * Any final response means the device is alive (RFC 3261 §11: even 4xx/5xx
 * to OPTIONS comes from the UA), except 408 and 503, which drachtio-server
 * generates itself on timeout and on a transport failure (no connection).
 */
export class DrachtioQualifySender implements QualifySender {
  private readonly port: DrachtioDeviceRequestPort;
  private readonly timeoutMs: number;

  constructor(sender: DrachtioRequestSender | DrachtioDeviceRequestPort, options: DrachtioQualifySenderOptions = {}) {
    this.port = sender instanceof DrachtioDeviceRequestPort ? sender : new DrachtioDeviceRequestPort(sender);
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  async qualify(binding: QualifyTarget): Promise<boolean> {
    // drachtio-server fills From, To, Call-ID and CSeq of an out-of-dialog request.
    const r = await this.port.send({ method: 'OPTIONS', uri: binding.contactUri, target: binding, headers: [], timeoutMs: this.timeoutMs });
    return r.origin === 'device' || r.origin === undefined;
  }
}
