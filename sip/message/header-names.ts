/**
 * Header-name canonicalisation: lower case, compact forms expanded.
 * RFC 3261 §7.3.3 plus the IANA "Header Field Parameters" compact forms.
 */
const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

/** Canonical (lower-case, long-form) name of a header. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT_FORMS[lower] ?? lower;
  return lower;
}

/**
 * Headers whose values contain commas that do not separate list entries
 * (RFC 3261 §7.3.1: only headers whose grammar is a comma list may be split;
 * auth headers, Date and free text are not).
 */
export const UNSPLITTABLE_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'www-authenticate',
  'proxy-authenticate',
  'authentication-info',
  'date',
  'subject',
  'user-agent',
  'server',
  'organization',
  'call-id',
  'cseq',
  'content-length',
  'content-type',
  'expires',
  'min-expires',
  'max-forwards',
  'timestamp',
  'retry-after',
  'identity',
]);
