import { createRequire } from 'node:module';
import type { bindUdp, receiveQueueBytes } from '@switchboard/udp-reuseport';

/** What native/udp-reuseport adds to node:dgram: a bind with or without SO_REUSEPORT, and the receive queue's size. */
export interface UdpSocketAddon {
  bindUdp: typeof bindUdp;
  receiveQueueBytes: typeof receiveQueueBytes;
}

/**
 * The UDP socket addon, or why there is none. Node 20's dgram can neither
 * set SO_REUSEPORT (22.12 can) nor say what its receive queue holds, so
 * both come from a small addon in native/ that npm builds at install. A
 * host without a compiler or a build that failed leaves SIP workers on the
 * one socket Node's cluster shares, and the overload gate blind to the
 * queue.
 */
export function loadUdpSocketAddon(): { addon: UdpSocketAddon } | { addon: null; reason: string } {
  try {
    return { addon: createRequire(import.meta.url)('@switchboard/udp-reuseport') as UdpSocketAddon };
  } catch (err) {
    return { addon: null, reason: err instanceof Error ? err.message : String(err) };
  }
}
