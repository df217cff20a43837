import { createRequire } from 'node:module';

/** Binds a UDP socket with SO_REUSEPORT; its file descriptor (see @switchboard/udp-reuseport). */
export type ReusePortBinder = (family: 4 | 6, host: string, port: number) => number;

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
