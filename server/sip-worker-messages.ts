import type { AppConfig } from '../src/config.js';
import type { BoundSipListener } from '../sip/edges/builtin/builtin-sip-edge.js';
import type { SipAddress, SipTransportName } from '../sip/message/types.js';

/** A SIP response no transaction of the receiving worker waited for (an OPTIONS probe's or a trunk REGISTER's answer). */
export interface RelayedSipResponse {
  type: 'sip-response';
  text: string;
  source: SipAddress;
  transport: SipTransportName;
}

/** Primary → worker. */
export type SipPrimaryMessage =
  | { type: 'config'; index: number; config: AppConfig; /** Every worker's node id: they share the listening sockets. */ siblings: string[] }
  | { type: 'shutdown' }
  | RelayedSipResponse;

/** Worker → primary ('hello' once it listens for its configuration: IPC messages sent earlier would be lost). */
export type SipWorkerMessage = { type: 'hello' } | { type: 'ready'; listeners: BoundSipListener[] } | { type: 'failed'; error: string } | RelayedSipResponse;
