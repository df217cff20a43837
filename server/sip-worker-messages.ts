import type { AppConfig } from '../src/config.js';
import type { BoundSipListener } from '../sip/edges/builtin/builtin-sip-edge.js';
import type { SipAddress, SipTransportName } from '../sip/message/types.js';
import type { DeviceRequest, DeviceResponse } from '../sip/registrar/device-request-port.js';

/** A SIP response no transaction of the receiving worker waited for (an OPTIONS probe's or a trunk REGISTER's answer). */
export interface RelayedSipResponse {
  type: 'sip-response';
  text: string;
  source: SipAddress;
  transport: SipTransportName;
}

/**
 * A request for a device whose connection another worker holds: the
 * primary hands it to the worker named `to`, which sends it and answers
 * with a DeviceResponseRelay addressed to `from`.
 */
export interface DeviceRequestRelay {
  type: 'device-request';
  id: string;
  from: string;
  to: string;
  request: DeviceRequest;
}

export interface DeviceResponseRelay {
  type: 'device-response';
  id: string;
  to: string;
  status: number;
  reason: string;
  origin: NonNullable<DeviceResponse['origin']>;
  /** The response's headers a caller may read (first value each, lower-case names). */
  headers: Record<string, string>;
}

/** Primary → worker. */
export type SipPrimaryMessage =
  | {
      type: 'config';
      index: number;
      config: AppConfig;
      /** Every worker's node id: they share the listening sockets. */
      siblings: string[];
      /** Bind the UDP listener's own socket with SO_REUSEPORT (on config.sip.udp.port, the port the first worker got). */
      udpReusePort: boolean;
    }
  | { type: 'shutdown' }
  | RelayedSipResponse
  | DeviceRequestRelay
  | DeviceResponseRelay;

/** Worker → primary ('hello' once it listens for its configuration: IPC messages sent earlier would be lost). */
export type SipWorkerMessage =
  | { type: 'hello' }
  | { type: 'ready'; listeners: BoundSipListener[] }
  | { type: 'failed'; error: string }
  | RelayedSipResponse
  | DeviceRequestRelay
  | DeviceResponseRelay;
