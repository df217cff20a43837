import { createRequire } from 'node:module';
import type { bindReusePort } from '@switchboard/udp-reuseport';

/** Binds a UDP socket with SO_REUSEPORT; its file descriptor (see @switchboard/udp-reuseport). */
export type ReusePortBinder = typeof bindReusePort;

/**
 * The SO_REUSEPORT binder, or why there is none. Node 20's dgram cannot set
 * the option (22.12 can), so it comes from a small addon in native/ that npm
 * builds at install; a host without a compiler or a build that failed
 * leaves SIP workers on the one socket Node's cluster shares.
 */
export function loadReusePortBinder(): { bind: ReusePortBinder } | { bind: null; reason: string } {
  try {
    const addon = createRequire(import.meta.url)('@switchboard/udp-reuseport') as { bindReusePort: ReusePortBinder };
    return { bind: addon.bindReusePort };
  } catch (err) {
    return { bind: null, reason: err instanceof Error ? err.message : String(err) };
  }
}
