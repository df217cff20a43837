import { SipParseError } from './sip-parse-error.js';

/** One Via entry (RFC 3261 §20.42), as far as the edge needs it. */
export interface ViaHeader {
  /** e.g. `SIP/2.0`. */
  protocol: string;
  /** Upper-cased transport, e.g. `UDP`, `WSS`. */
  transport: string;
  /** Host as written, IPv6 references with their brackets. */
  host: string;
  port: number | undefined;
  /** Parameters in order; names lower-cased, values verbatim, `null` for flags. */
  params: Array<[name: string, value: string | null]>;
  branch: string | undefined;
  /** The entry text as received. */
  raw: string;
}

// token chars of RFC 3261 §25.1 as a lookup table: the Via is parsed on every request.
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") TOKEN_CHARS[c.charCodeAt(0)] = 1;
const isToken = (c: number): boolean => c < 128 && TOKEN_CHARS[c] === 1;
const isWs = (c: number): boolean => c === 0x20 || c === 0x09;

/**
 * Parse one Via entry. drachtio-srf's Via regex stops at IPv6 references
 * (`[2001:db8::1]`) and `received=[...]` (RFC 5118 §4.5), so this small
 * scanner does the Via grammar, allowing the SWS that RFC 3261 §25.1 allows
 * around SLASH, COLON, SEMI and EQUAL (RFC 4475 §3.1.1.1).
 */
export function parseViaEntry(raw: string): ViaHeader {
  let i = 0;
  const n = raw.length;
  const fail = (why: string): never => {
    throw new SipParseError(`malformed Via: ${why}`);
  };
  const skipWs = (): void => {
    while (i < n && isWs(raw.charCodeAt(i))) i++;
  };
  const token = (): string => {
    const s = i;
    while (i < n && isToken(raw.charCodeAt(i))) i++;
    if (i === s) fail('expected a token');
    return raw.slice(s, i);
  };
  const expect = (ch: string): void => {
    skipWs();
    if (raw[i] !== ch) fail(`expected '${ch}'`);
    i++;
    skipWs();
  };

  skipWs();
  const name = token();
  expect('/');
  const version = token();
  expect('/');
  const transport = token().toUpperCase();
  const beforeHost = i;
  skipWs();
  if (i === beforeHost) fail('expected LWS before sent-by');

  let host: string;
  if (raw[i] === '[') {
    const close = raw.indexOf(']', i);
    if (close < 0) fail('unterminated IPv6 reference');
    host = raw.slice(i, close + 1);
    i = close + 1;
  } else {
    const s = i;
    while (i < n) {
      const c = raw.charCodeAt(i);
      // hostname / IPv4address characters (RFC 3261 §25.1)
      if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f) i++;
      else break;
    }
    if (i === s) fail('expected a host');
    host = raw.slice(s, i);
  }
  skipWs();
  let port: number | undefined;
  if (raw[i] === ':') {
    i++;
    skipWs();
    const s = i;
    while (i < n && raw.charCodeAt(i) >= 0x30 && raw.charCodeAt(i) <= 0x39) i++;
    if (i === s || i - s > 5) fail('bad port');
    port = Number(raw.slice(s, i));
    if (port > 65535) fail('bad port');
  }

  const params: Array<[string, string | null]> = [];
  let branch: string | undefined;
  for (;;) {
    skipWs();
    if (i >= n) break;
    if (raw[i] !== ';') fail('expected ;');
    i++;
    skipWs();
    const pname = token().toLowerCase();
    skipWs();
    let pvalue: string | null = null;
    if (raw[i] === '=') {
      i++;
      skipWs();
      const s = i;
      if (raw[i] === '"') {
        i++;
        while (i < n && raw[i] !== '"') i += raw[i] === '\\' ? 2 : 1;
        if (i >= n) fail('unterminated quoted string');
        i++;
      } else {
        // token, or an IPv6 address with or without [] in received= (RFC 5118 §4.5)
        while (i < n) {
          const c = raw.charCodeAt(i);
          if (isToken(c) || c === 0x3a || c === 0x5b || c === 0x5d) i++;
          else break;
        }
      }
      if (i === s) fail('empty parameter value');
      pvalue = raw.slice(s, i);
    }
    if (pname === 'branch') branch = pvalue ?? undefined;
    params.push([pname, pvalue]);
  }
  return { protocol: `${name}/${version}`, transport, host, port, params, branch, raw };
}
