import type { SipAddress, SipTransportName } from '../message/types.js';

/** A binding to probe: where the device said it is and where it really sent from. */
export interface QualifyTarget {
  /** The Contact URI as registered; the OPTIONS Request-URI. */
  contactUri: string;
  transport: SipTransportName;
  /** Source address of the REGISTER (behind NAT the only address that reaches the device). */
  source: SipAddress;
  /** The stream connection the REGISTER came on (built-in edge); responses to requests on it go back on it. */
  connectionId?: string;
  /** The node (process) that holds that connection: with SIP workers, a sibling may have to send on it. */
  nodeId?: string;
}

/**
 * Sends an OPTIONS "qualify" to a binding and says whether the device
 * answered. The registrar's sweep uses it to find dead bindings on edges
 * that cannot report connection close, and the evict_unreachable policy.
 */
export interface QualifySender {
  qualify(binding: QualifyTarget): Promise<boolean>;
}
