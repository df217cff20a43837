import { createRequire } from 'node:module';

/** A SIP/SIPS URI split into parts by drachtio-srf's `parseUri`. */
export interface SipUri {
  scheme: string;
  user: string | undefined;
  password: string | undefined;
  host: string;
  port: number | undefined;
  /** URI parameters; `null` for a flag parameter. */
  params: Record<string, string | null>;
  headers: Record<string, string>;
}

interface DrachtioUri {
  scheme: string;
  user?: string;
  password?: string;
  host?: string;
  port?: number;
  params?: Record<string, string | null>;
  headers?: Record<string, string>;
}

export interface DrachtioCursor {
  s: string;
  i: number;
}

export interface DrachtioNameAddr {
  name?: string;
  uri: string;
  params: Record<string, string | undefined>;
}

interface DrachtioParserModule {
  getParser(name: string): (cursor: DrachtioCursor) => unknown;
  parseUri(uri: string): DrachtioUri | undefined;
}

// drachtio-srf is CommonJS. Load only its parser module: requiring the package
// root would pull in the whole framework (agent, sockets) for two functions.
const require = createRequire(import.meta.url);
const drachtioParser = require('drachtio-srf/lib/sip-parser/parser.js') as DrachtioParserModule;

/** drachtio-srf's name-addr / addr-spec grammar (its To/From parser), advancing `cursor.i`. */
export const drachtioParseNameAddr = drachtioParser.getParser('to') as (cursor: DrachtioCursor) => DrachtioNameAddr;

/**
 * A URI's user part with its %-escapes decoded (RFC 3261 §19.1.4: `%61lice`
 * is `alice`); as given when an escape is malformed. Most user parts hold
 * no escape, so they are returned without a copy.
 */
export function decodeUserPart(user: string): string {
  if (!user.includes('%')) return user;
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

/** Parse a sip:/sips: URI; undefined when it is not one drachtio-srf can read. */
export function parseSipUri(uri: string): SipUri | undefined {
  let parsed: DrachtioUri | undefined;
  try {
    parsed = drachtioParser.parseUri(uri);
  } catch {
    return undefined;
  }
  if (!parsed || (parsed.scheme !== 'sip' && parsed.scheme !== 'sips') || !parsed.host) return undefined;
  // drachtio gives `+match`: a small integer, or NaN when the URI has no port. A
  // comparison (not Number.isFinite, which gathers no type feedback) keeps
  // V8 from deoptimising this function on every switch between the two.
  const port = parsed.port;
  return {
    scheme: parsed.scheme,
    user: parsed.user,
    password: parsed.password,
    host: parsed.host,
    port: port !== undefined && port >= 0 && port < Infinity ? port : undefined,
    params: parsed.params ?? {},
    headers: parsed.headers ?? {},
  };
}
