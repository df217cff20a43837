import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { RuleError } from '../errors.js';

/**
 * Webhook targets must be public unicast addresses: loopback, RFC 1918
 * private, link-local (which holds the 169.254.169.254 cloud metadata
 * endpoint), CGNAT (100.64/10, Alibaba's metadata), unique-local IPv6
 * (fd00:ec2::254), multicast, reserved and unspecified are all refused.
 * ipaddr.js names these ranges (and unwraps IPv4-mapped IPv6), so the list is
 * not hand-written. `allowLoopback` exists for tests only; `allowPrivate`
 * lets an on-premises installation reach receivers on its own RFC 1918 /
 * unique-local network, while link-local (metadata), CGNAT and the rest stay
 * refused.
 */
export interface TargetPolicy {
  allowLoopback: boolean;
  allowPrivate: boolean;
}

const PRIVATE_RANGES = new Set(['private', 'uniqueLocal']);

export function addressRefusal(ip: string, policy: TargetPolicy): string | null {
  if (!ipaddr.isValid(ip)) return `${ip} is not an IP address`;
  const addr = ipaddr.process(ip);
  const range = addr.range();
  if (range === 'unicast') return null;
  if (range === 'loopback' && policy.allowLoopback) return null;
  if (PRIVATE_RANGES.has(range) && policy.allowPrivate) return null;
  return `${ip} is a ${range} address`;
}

export interface TargetCheck extends TargetPolicy {
  /** Resolver, injectable for tests; defaults to the system resolver. */
  lookup?: (host: string) => Promise<string[]>;
}

const systemLookup = async (host: string): Promise<string[]> => (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Checked when a webhook is created or its URL changes; the same check runs again at every delivery (DNS can change). */
export async function assertAllowedTarget(raw: string, check: TargetCheck): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RuleError('invalid_webhook_url', `"${raw}" is not a URL`, 'url');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RuleError('invalid_webhook_url', 'Webhook URLs use https:// (or http://)', 'url');
  if (url.username || url.password) throw new RuleError('invalid_webhook_url', 'Put no credentials in the URL; verify our signature instead', 'url');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = net.isIP(host) ? [host] : await (check.lookup ?? systemLookup)(host).catch(() => []);
  if (!addresses.length) throw new RuleError('webhook_url_unresolvable', `${host} does not resolve to an address`, 'url');
  for (const a of addresses) {
    const why = addressRefusal(a, check);
    if (why) throw new RuleError('webhook_target_forbidden', `Webhooks cannot target ${host}: ${why} (only public addresses are allowed)`, 'url');
  }
  return url;
}

/**
 * A dns.lookup replacement for http.request: the connection goes to an
 * address that was checked in the same lookup, so a DNS answer that changes
 * between check and connect (rebinding) cannot reach a private address.
 */
export function guardedLookup(policy: TargetPolicy): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses;
      const bad = list.map((a) => addressRefusal(a.address, policy)).find((r) => r !== null);
      if (bad || !list.length) {
        const e = Object.assign(new Error(`refused target ${hostname}: ${bad ?? 'no address'}`), { code: 'ETARGETFORBIDDEN' });
        return callback(e, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
