import crypto from 'node:crypto';
import { digestHash, type DigestAlgorithm } from '../digest/digest-credentials.js';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: DigestAlgorithm;
  qop: string[];
  stale: boolean;
}

/** Reads a `WWW-Authenticate`/`Proxy-Authenticate: Digest …` value (RFC 7616 §3.3); undefined for another scheme or algorithm. */
export function parseDigestChallenge(value: string): DigestChallenge | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return undefined;
  const params = new Map<string, string>();
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p = re.exec(m[1]!); p; p = re.exec(m[1]!)) params.set(p[1]!.toLowerCase(), p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!);
  const algorithm = (params.get('algorithm') ?? 'MD5').toUpperCase();
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256') return undefined;
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || !nonce) return undefined;
  return {
    realm,
    nonce,
    opaque: params.get('opaque'),
    algorithm,
    qop: (params.get('qop') ?? '')
      .split(',')
      .map((q) => q.trim().toLowerCase())
      .filter(Boolean),
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
  };
}

/** Picks the strongest challenge we can answer (RFC 8760 §2.4: SHA-256 over MD5). */
export function pickChallenge(values: string[]): DigestChallenge | undefined {
  const all = values.map(parseDigestChallenge).filter((c): c is DigestChallenge => Boolean(c));
  return all.find((c) => c.algorithm === 'SHA-256') ?? all[0];
}

/** The Authorization value answering a challenge (RFC 7616 §3.4; qop=auth when offered, RFC 2069 style otherwise). */
export function digestAuthorization(c: DigestChallenge, username: string, password: string, method: string, uri: string, nc: number): string {
  const h = (s: string) => digestHash(c.algorithm, s);
  const ha1 = h(`${username}:${c.realm}:${password}`);
  const ha2 = h(`${method}:${uri}`);
  const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [`username=${q(username)}`, `realm=${q(c.realm)}`, `nonce=${q(c.nonce)}`, `uri=${q(uri)}`, `algorithm=${c.algorithm}`];
  if (c.qop.includes('auth')) {
    const cnonce = crypto.randomBytes(8).toString('hex');
    const ncs = nc.toString(16).padStart(8, '0');
    parts.push(`response=${q(h(`${ha1}:${c.nonce}:${ncs}:${cnonce}:auth:${ha2}`))}`, 'qop=auth', `nc=${ncs}`, `cnonce=${q(cnonce)}`);
  } else {
    parts.push(`response=${q(h(`${ha1}:${c.nonce}:${ha2}`))}`);
  }
  if (c.opaque !== undefined) parts.push(`opaque=${q(c.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}
