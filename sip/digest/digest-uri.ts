import { parseSipUri, type SipUri } from '../message/sip-uri.js';

/** URI parameters that must agree when either side has them (RFC 3261 §19.1.4). */
const STRICT_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

/**
 * RFC 7616 §3.4.6 (and RFC 2617 §3.2.2.5 before it): "The authenticating
 * server MUST assure that the resource designated by the 'uri' parameter is
 * the same as the resource specified in the Request-Line; if they are not,
 * the server SHOULD return a 400 Bad Request error." Otherwise an answer
 * computed for another resource (`sip:evil.example`) would be accepted here.
 *
 * "The same resource" for SIP is URI equivalence, RFC 3261 §19.1.4: scheme
 * and host compare case-insensitively, user and password case-sensitively,
 * escapes equal the characters they stand for, a port given on one side only
 * differs, the parameters user/ttl/method/maddr/transport must agree when
 * either side has them, other parameters only when both do, and headers must
 * agree. A uri that is not a SIP URI must equal the Request-URI as text.
 */
export function sameResourceUri(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  const a = parseSipUri(digestUri);
  const b = parseSipUri(requestUri);
  if (!a || !b) return false;
  return equivalent(a, b);
}

function equivalent(a: SipUri, b: SipUri): boolean {
  if (a.scheme.toLowerCase() !== b.scheme.toLowerCase()) return false;
  if (unescape(a.user) !== unescape(b.user) || unescape(a.password) !== unescape(b.password)) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  const pa = lowerKeys(a.params);
  const pb = lowerKeys(b.params);
  for (const name of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
    const inA = name in pa;
    const inB = name in pb;
    if (inA && inB) {
      if (paramValue(pa[name]) !== paramValue(pb[name])) return false;
    } else if (STRICT_PARAMS.includes(name)) return false;
  }
  const ha = Object.entries(a.headers).map(([k, v]) => `${k.toLowerCase()}=${unescape(v)}`);
  const hb = Object.entries(b.headers).map(([k, v]) => `${k.toLowerCase()}=${unescape(v)}`);
  return ha.length === hb.length && ha.sort().join('&') === hb.sort().join('&');
}

function lowerKeys(params: Record<string, string | null>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(params)) out[k.toLowerCase()] = v;
  return out;
}

/** Parameter values compare case-insensitively (§19.1.4: "comparison of all other components ... is case-insensitive"). */
function paramValue(v: string | null | undefined): string {
  return v == null ? '' : (unescape(v) ?? v).toLowerCase();
}

function unescape(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
