import crypto from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** Hash function of a digest algorithm (RFC 7616 §3.2; RFC 8760 §2.1). */
export function digestHash(algorithm: DigestAlgorithm, text: string): string {
  // One-shot crypto.hash: half the cost of a Hash object, and this runs twice per authenticated REGISTER.
  return crypto.hash(algorithm === 'MD5' ? 'md5' : 'sha256', text, 'hex');
}

/** Parsed `Authorization: Digest …` credentials (RFC 7616 §3.4). */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  /** As the client sent it: a DigestAlgorithm when we support it, anything else otherwise. */
  algorithm: string;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
}

/**
 * Reads auth-params (RFC 7235 §2.1: token "=" ( token / quoted-string ))
 * from a Digest credentials value. Returns undefined for another scheme or
 * a value that does not follow the grammar.
 */
export function parseDigestCredentials(value: string): DigestCredentials | undefined {
  const m = /^\s*Digest\s+/i.exec(value);
  if (!m) return undefined;
  const params = new Map<string, string>();
  let i = m[0].length;
  const s = value;
  while (i < s.length) {
    while (i < s.length && /[\s,]/.test(s[i]!)) i++;
    if (i >= s.length) break;
    const nameMatch = /^[A-Za-z0-9\-_.!%*+`'~]+/.exec(s.slice(i, i + 64));
    if (!nameMatch) return undefined;
    const name = nameMatch[0].toLowerCase();
    i += nameMatch[0].length;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '=') return undefined;
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    let v = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) return undefined;
        const c = s[i]!;
        if (c === '\\' && i + 1 < s.length) {
          v += s[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          v += c;
          i++;
        }
      }
    } else {
      const t = /^[^\s,]*/.exec(s.slice(i))![0];
      v = t;
      i += t.length;
    }
    if (params.has(name)) return undefined;
    params.set(name, v);
  }
  const username = params.get('username');
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const uri = params.get('uri');
  const response = params.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) return undefined;
  return {
    username,
    realm,
    nonce,
    uri,
    response,
    algorithm: params.get('algorithm') ?? 'MD5',
    qop: params.get('qop'),
    nc: params.get('nc'),
    cnonce: params.get('cnonce'),
    opaque: params.get('opaque'),
  };
}

/** The expected `response` for qop=auth (RFC 7616 §3.4.1). */
export function expectedDigestResponse(algorithm: DigestAlgorithm, ha1: string, method: string, c: DigestCredentials): string {
  const ha2 = digestHash(algorithm, `${method}:${c.uri}`);
  return digestHash(algorithm, `${ha1}:${c.nonce}:${c.nc ?? ''}:${c.cnonce ?? ''}:${c.qop ?? ''}:${ha2}`);
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase());
  const y = Buffer.from(b.toLowerCase());
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** One WWW-Authenticate value (RFC 7616 §3.3). */
export function digestChallenge(realm: string, nonce: string, algorithm: DigestAlgorithm, stale: boolean): string {
  const r = realm.replace(/["\\]/g, '\\$&');
  return `Digest realm="${r}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"${stale ? ', stale=true' : ''}`;
}
