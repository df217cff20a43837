import type { SipContact, SipCSeq, SipNameAddr, SipRequest } from './types.js';
import { HeaderSection } from './header-section.js';
import { canonicalHeaderName, UNSPLITTABLE_HEADERS } from './header-names.js';
import { splitHeaderList } from './header-list.js';
import { SipParseError } from './sip-parse-error.js';
import { parseViaEntry, type ViaHeader } from './via-header.js';
import { drachtioParseNameAddr } from './sip-uri.js';

export { SipParseError } from './sip-parse-error.js';

const METHOD_TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const SIP_VERSION = /^SIP\/\d+\.\d+$/;
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+\-.]*:/;
const CSEQ = /^(\d{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)$/;
const DIGITS = /^\d+$/;
const WHITESPACE = /\s/;
const HEADER_END = Buffer.from('\r\n\r\n');

/** Methods RFC 3261 and its extensions define: the parser picks 501 over 400 by it (RFC 4475 §3.1.2.18), the default handler 405 over 501. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'INFO',
  'REFER',
  'MESSAGE',
  'UPDATE',
]);

export interface SipParseLimits {
  /** Largest header section accepted, in bytes. */
  maxHeaderBytes: number;
  /** Largest body accepted, in bytes. */
  maxBodyBytes: number;
}

/**
 * A request parsed from the wire. Parsing and validation happen once, in
 * the constructor path; accessors only read. Grammar of name-addr values
 * comes from drachtio-srf; line splitting is done here because drachtio's
 * lazy mode merges repeated headers with commas, which loses the line
 * boundaries RFC 4475 §3.3.8 checks and the registrar needs (one
 * Authorization per line).
 */
export class ParsedSipRequest implements SipRequest {
  readonly method: string;
  readonly uri: string;
  readonly callId: string;
  readonly cseq: SipCSeq;
  readonly from: SipNameAddr;
  readonly to: SipNameAddr;
  readonly body: string;
  /** Every Via entry in order, top first. */
  readonly vias: ViaHeader[];
  /** Max-Forwards when present (RFC 2543 peers may omit it, RFC 4475 §3.4.1). */
  readonly maxForwards: number | undefined;
  readonly section: HeaderSection;
  private readonly contactList: SipContact[] | '*';

  private constructor(section: HeaderSection, body: Buffer) {
    this.section = section;
    const startLine = section.startLine;

    // RFC 3261 §7.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF, single SPs.
    const sp1 = startLine.indexOf(' ');
    const sp2 = sp1 < 0 ? -1 : startLine.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 < 0) throw new SipParseError('malformed request line');
    const method = startLine.slice(0, sp1);
    const uri = startLine.slice(sp1 + 1, sp2);
    const version = startLine.slice(sp2 + 1);
    if (!METHOD_TOKEN.test(method)) throw new SipParseError('malformed method');
    if (version !== 'SIP/2.0') {
      // RFC 3261 §21.5.6 / RFC 4475 §3.1.2.16: a well-formed but unknown version gets 505.
      if (SIP_VERSION.test(version)) throw new SipParseError(`unsupported version ${version}`, { status: 505 });
      throw new SipParseError('malformed SIP version');
    }
    if (section.malformedLines > 0) throw new SipParseError('malformed header line');
    checkRequestUri(uri);

    const headers = section.headers;
    const callId = singleRequired(headers, 'call-id');
    // RFC 3261 §8.1.1.4: Call-ID is one word[@word]; no whitespace, no list.
    if (WHITESPACE.test(callId) || callId.includes(',')) throw new SipParseError('malformed Call-ID');
    const cseqMatch = CSEQ.exec(singleRequired(headers, 'cseq'));
    if (!cseqMatch) throw new SipParseError('malformed CSeq');
    const seq = Number(cseqMatch[1]);
    // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
    if (seq >= 2 ** 31) throw new SipParseError('CSeq number out of range');
    const cseqMethod = cseqMatch[2]!;
    if (cseqMethod !== method) {
      // RFC 3261 §8.1.1.5: the CSeq method MUST match the request's. For an
      // unknown method RFC 4475 §3.1.2.18 prefers 501 (we cannot process it either way).
      throw new SipParseError('CSeq method does not match the request method', {
        status: KNOWN_METHODS.has(method) ? 400 : 501,
      });
    }

    const mfList = headers.get('max-forwards');
    let maxForwards: number | undefined;
    if (mfList) {
      const mf = mfList.length === 1 ? mfList[0]! : '';
      // RFC 3261 §20.22 with the 0-255 range RFC 4475 §3.1.2.4 expects.
      if (!DIGITS.test(mf) || mf.length > 10 || Number(mf) > 255) throw new SipParseError('malformed Max-Forwards');
      maxForwards = Number(mf);
    }

    const viaLines = headers.get('via');
    if (!viaLines) throw new SipParseError('missing Via');
    const vias: ViaHeader[] = [];
    for (const line of viaLines) {
      for (const entry of splitHeaderList(line)) {
        if (entry === '') throw new SipParseError('empty Via entry');
        vias.push(parseViaEntry(entry));
      }
    }

    this.method = method;
    this.uri = uri;
    this.callId = callId;
    this.cseq = { seq, method: cseqMethod };
    this.from = parseNameAddr(singleRequired(headers, 'from'), false);
    this.to = parseNameAddr(singleRequired(headers, 'to'), false);
    this.vias = vias;
    this.maxForwards = maxForwards;
    this.contactList = parseContacts(headers.get('contact'));
    this.body = body.length === 0 ? '' : body.toString('utf8');
  }

  /**
   * Build a request from a header section already split (stream framing)
   * and its body. Throws SipParseError carrying the section.
   */
  static fromSection(section: HeaderSection, body: Buffer): ParsedSipRequest {
    try {
      return new ParsedSipRequest(section, body);
    } catch (err) {
      throw asParseError(err, section);
    }
  }

  /**
   * Parse one whole message: a UDP datagram or a WebSocket message
   * (RFC 7118 §5: one SIP message per WebSocket message). Content-Length is
   * optional there (RFC 3261 §18.3 only requires it on streams); when
   * present it delimits the body and octets after it are ignored
   * (RFC 4475 §3.1.1.8); when larger than what arrived the request is
   * rejected (RFC 4475 §3.1.2.2).
   */
  static parse(bytes: Buffer, limits: SipParseLimits): ParsedSipRequest {
    let headerEnd = bytes.indexOf(HEADER_END);
    let bodyStart: number;
    if (headerEnd < 0) {
      // Lenient: a datagram that ends without the empty line is read to its
      // end, so a request like RFC 4475 §3.1.2.15 can still be answered 400.
      headerEnd = bytes.length;
      while (headerEnd >= 2 && bytes[headerEnd - 2] === 0x0d && bytes[headerEnd - 1] === 0x0a) headerEnd -= 2;
      bodyStart = bytes.length;
    } else {
      bodyStart = headerEnd + 4;
    }
    if (headerEnd > limits.maxHeaderBytes) throw new SipParseError('header section too large', { status: 413 });
    const section = HeaderSection.read(bytes.toString('utf8', 0, headerEnd));
    try {
      let body = bytes.subarray(bodyStart);
      const cl = section.headers.get('content-length');
      if (cl) {
        const length = contentLength(cl);
        if (length > body.length) throw new SipParseError('Content-Length larger than the message');
        body = body.subarray(0, length);
      }
      if (body.length > limits.maxBodyBytes) throw new SipParseError('body too large', { status: 413 });
      return new ParsedSipRequest(section, body);
    } catch (err) {
      throw asParseError(err, section);
    }
  }

  header(name: string): string | undefined {
    const canonical = canonicalHeaderName(name);
    const lines = this.section.headers.get(canonical);
    if (!lines) return undefined;
    if (UNSPLITTABLE_HEADERS.has(canonical)) return lines[0];
    return splitHeaderList(lines[0]!)[0];
  }

  headerValues(name: string): string[] {
    const canonical = canonicalHeaderName(name);
    const lines = this.section.headers.get(canonical);
    if (!lines) return [];
    if (UNSPLITTABLE_HEADERS.has(canonical)) return lines.slice();
    const out: string[] = [];
    for (const line of lines) for (const entry of splitHeaderList(line)) if (entry !== '') out.push(entry);
    return out;
  }

  contacts(): SipContact[] | '*' {
    return this.contactList;
  }

  get topVia(): ViaHeader {
    return this.vias[0]!;
  }
}

/**
 * Parse a Content-Length header list: exactly one, all digits.
 * RFC 4475 §3.1.2.3 (negative) and §3.3.9 (several values) are errors.
 */
export function contentLength(values: string[]): number {
  if (values.length !== 1) throw new SipParseError('several Content-Length values');
  const v = values[0]!;
  if (!DIGITS.test(v) || v.length > 10) throw new SipParseError('malformed Content-Length');
  return Number(v);
}

function asParseError(err: unknown, section: HeaderSection): SipParseError {
  if (err instanceof SipParseError) {
    err.section ??= section;
    return err;
  }
  // A grammar function threw on input it did not expect: still the client's fault.
  return new SipParseError(`unparsable request: ${(err as Error)?.message ?? String(err)}`, { section });
}

function singleRequired(headers: Map<string, string[]>, name: string): string {
  const list = headers.get(name);
  // RFC 3261 §8.1.1: To, From, CSeq, Call-ID are mandatory; RFC 4475 §3.3.8: exactly once.
  if (!list) throw new SipParseError(`missing ${name}`);
  if (list.length !== 1) throw new SipParseError(`several ${name} headers`);
  return list[0]!;
}

/**
 * RFC 3261 §8.2.2.1 / §19.1.1: the Request-URI must be a URI without <>
 * or LWS (RFC 4475 §3.1.2.7/8); a SIP URI there may not carry headers
 * (§19.1.1 table, RFC 4475 §3.1.2.11) and an IPv6 host must be bracketed
 * (RFC 5118 §4.2). Schemes other than sip/sips/tel get 416.
 */
function checkRequestUri(uri: string): void {
  if (!URI_SCHEME.test(uri) || WHITESPACE.test(uri)) throw new SipParseError('malformed Request-URI');
  const colon = uri.indexOf(':');
  const scheme = uri.slice(0, colon).toLowerCase();
  if (scheme === 'tel') return;
  if (scheme !== 'sip' && scheme !== 'sips') throw new SipParseError(`unsupported URI scheme ${scheme}`, { status: 416 });
  const at = uri.lastIndexOf('@');
  const hostPart = uri.slice(at < 0 ? colon + 1 : at + 1);
  if (hostPart.includes('?')) throw new SipParseError('headers in Request-URI');
  const semi = hostPart.indexOf(';');
  const hostport = semi < 0 ? hostPart : hostPart.slice(0, semi);
  let portText: string | undefined;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) throw new SipParseError('malformed IPv6 reference in Request-URI');
    const rest = hostport.slice(close + 1);
    if (rest !== '') {
      if (rest[0] !== ':') throw new SipParseError('malformed Request-URI host');
      portText = rest.slice(1);
    }
  } else {
    const firstColon = hostport.indexOf(':');
    if (firstColon === 0 || hostport === '') throw new SipParseError('malformed Request-URI host');
    if (firstColon > 0) {
      portText = hostport.slice(firstColon + 1);
    }
  }
  if (portText !== undefined && (!DIGITS.test(portText) || portText.length > 5)) {
    throw new SipParseError('malformed Request-URI port');
  }
}

/**
 * One name-addr / addr-spec with header params, through drachtio-srf's
 * grammar; the whole text must be consumed, so trailing garbage
 * (RFC 4475 §3.1.2.1, §3.1.2.6, §3.1.2.15) is an error rather than ignored.
 */
function parseNameAddr(text: string, isContact: boolean): SipContact {
  const cursor = { s: text, i: 0 };
  let parsed;
  try {
    parsed = drachtioParseNameAddr(cursor);
  } catch {
    throw new SipParseError('malformed name-addr');
  }
  if (cursor.i !== text.length) throw new SipParseError('malformed name-addr: trailing text');
  const uri = parsed.uri;
  if (!URI_SCHEME.test(uri) || WHITESPACE.test(uri)) throw new SipParseError('malformed URI in name-addr');
  if (text.includes('<')) {
    // RFC 3261 §25.1: LAQUOT = SWS "<" — no whitespace inside the brackets (RFC 4475 §3.1.2.14).
    if (!text.includes(`<${uri}>`)) throw new SipParseError('whitespace inside <>');
  } else if (uri.includes('?') || uri.includes(',')) {
    // RFC 3261 §20.10: a URI with a comma, question mark or semicolon MUST be in <> (RFC 4475 §3.1.2.13).
    throw new SipParseError(isContact ? 'Contact URI with headers must be enclosed in <>' : 'URI must be enclosed in <>');
  }
  const params: Record<string, string | null> = {};
  for (const key of Object.keys(parsed.params)) params[key] = parsed.params[key] ?? null;
  const out: SipContact = { uri, params, raw: text };
  if (parsed.name !== undefined) out.displayName = unquoteDisplayName(parsed.name);
  return out;
}

function unquoteDisplayName(name: string): string {
  if (name.length < 2 || name[0] !== '"') return name;
  return name.slice(1, -1).replace(/\\(.)/g, '$1');
}

function parseContacts(lines: string[] | undefined): SipContact[] | '*' {
  if (!lines) return [];
  // RFC 3261 §20.10 / §10.3 step 6: `*` stands alone.
  if (lines.length === 1 && lines[0] === '*') return '*';
  const contacts: SipContact[] = [];
  for (const line of lines) {
    for (const entry of splitHeaderList(line)) {
      if (entry === '' || entry === '*') throw new SipParseError('malformed Contact list');
      contacts.push(parseNameAddr(entry, true));
    }
  }
  return contacts;
}
