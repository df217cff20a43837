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
 * a value that does not follow the grammar (a parameter twice included).
 * A scanner over char codes that slices each value once: it runs on every
 * authenticated REGISTER, and building values a character at a time was
 * the largest share of the bytes a REGISTER allocated.
 */
export function parseDigestCredentials(value: string): DigestCredentials | undefined {
  const s = value;
  const n = s.length;
  let i = 0;
  while (i < n && isJsSpace(s.charCodeAt(i))) i++;
  if (i + 6 > n || s.slice(i, i + 6).toLowerCase() !== 'digest') return undefined;
  i += 6;
  if (i >= n || !isJsSpace(s.charCodeAt(i))) return undefined;
  const seen: string[] = [];
  const found: Partial<Record<Field, string>> = {};
  while (i < n) {
    let c = s.charCodeAt(i);
    while (i < n && (isJsSpace(c) || c === 0x2c)) c = s.charCodeAt(++i);
    if (i >= n) break;
    const nameStart = i;
    while (i < n && i - nameStart < MAX_PARAM_NAME && isTokenChar(s.charCodeAt(i))) i++;
    if (i === nameStart) return undefined;
    const name = s.slice(nameStart, i).toLowerCase();
    while (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09) i++;
    if (s.charCodeAt(i) !== 0x3d) return undefined;
    i++;
    while (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09) i++;
    let v: string;
    if (s.charCodeAt(i) === 0x22) {
      // quoted-string: a backslash escapes the next character (RFC 7230 §3.2.6 quoted-pair)
      const open = ++i;
      let escaped = false;
      for (;;) {
        if (i >= n) return undefined;
        const q = s.charCodeAt(i);
        if (q === 0x5c && i + 1 < n) {
          escaped = true;
          i += 2;
        } else if (q === 0x22) break;
        else i++;
      }
      v = escaped ? s.slice(open, i).replace(QUOTED_PAIR, '$1') : s.slice(open, i);
      i++;
    } else {
      const start = i;
      while (i < n && !isJsSpace(s.charCodeAt(i)) && s.charCodeAt(i) !== 0x2c) i++;
      v = s.slice(start, i);
    }
    if (seen.includes(name)) return undefined;
    seen.push(name);
    if (FIELDS.has(name)) found[name as Field] = v;
  }
  const { username, realm, nonce, uri, response } = found;
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) return undefined;
  return {
    username,
    realm,
    nonce,
    uri,
    response,
    algorithm: found.algorithm ?? 'MD5',
    qop: found.qop,
    nc: found.nc,
    cnonce: found.cnonce,
    opaque: found.opaque,
  };
}

const FIELD_NAMES = ['username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'qop', 'nc', 'cnonce', 'opaque'] as const;
type Field = (typeof FIELD_NAMES)[number];
const FIELDS: ReadonlySet<string> = new Set(FIELD_NAMES);
/** Longer parameter names are refused: no digest parameter comes near it. */
const MAX_PARAM_NAME = 64;
const QUOTED_PAIR = /\\([\s\S])/g;
// token characters of RFC 7230 §3.2.6 as the grammar above reads them
const TOKEN_CHARS = new Uint8Array(128);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!%*+`'~") TOKEN_CHARS[ch.charCodeAt(0)] = 1;
const isTokenChar = (c: number): boolean => c < 128 && TOKEN_CHARS[c] === 1;

/** What JavaScript's \s matches (the grammar's whitespace before this scanner was a regular expression). */
function isJsSpace(c: number): boolean {
  if (c < 128) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return (
    c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
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
