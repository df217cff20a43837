import crypto from 'node:crypto';
import { randomHex } from './random-pool.js';
import type { SipAddress, SipResponseSpec } from './types.js';
import type { HeaderSection } from './header-section.js';
import type { ParsedSipRequest } from './sip-request.js';
import { splitHeaderList } from './header-list.js';
import { parseViaEntry, type ViaHeader } from './via-header.js';

/**
 * What a response copies from its request (RFC 3261 §8.2.6.2). Built from a
 * parsed request, or salvaged from a header section that failed validation
 * so a 400 can still reach the client.
 */
export interface ResponseBasis {
  /** Via entries top first: parsed where possible, else the raw text (copied as is). */
  vias: Array<ViaHeader | string>;
  from: string | undefined;
  to: string | undefined;
  toHasTag: boolean;
  callId: string | undefined;
  cseq: string;
}

export interface ResponseTarget {
  /** Where the request came from, for `received`/`rport` (RFC 3261 §18.2.1, RFC 3581 §4). */
  source: SipAddress;
  /** Server header value; omitted when empty. */
  serverHeader: string;
}

const TO_TAG = /;\s*tag\s*=/i;
const HEADER_NAME = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export function responseBasisOf(req: ParsedSipRequest): ResponseBasis {
  const h = req.section.headers;
  return {
    vias: req.vias,
    from: h.get('from')![0],
    to: h.get('to')![0],
    toHasTag: req.to.params['tag'] !== undefined,
    callId: req.callId,
    cseq: `${req.cseq.seq} ${req.cseq.method}`,
  };
}

/**
 * The basis for answering a request that failed validation, or undefined
 * when there is nothing to answer: a response start line, no Via (the
 * client could not match the answer, RFC 3261 §8.2.6.2), or no CSeq.
 */
export function salvageResponseBasis(section: HeaderSection): ResponseBasis | undefined {
  const start = section.startLine;
  if (start.startsWith('SIP/') || start.indexOf(' ') <= 0) return undefined;
  const viaLines = section.headers.get('via');
  const cseq = section.headers.get('cseq')?.[0];
  if (!viaLines || !cseq) return undefined;
  const vias: Array<ViaHeader | string> = [];
  for (const line of viaLines) {
    for (const entry of splitHeaderList(line)) {
      if (entry === '') continue;
      try {
        vias.push(parseViaEntry(entry));
      } catch {
        vias.push(entry);
      }
    }
  }
  if (vias.length === 0) return undefined;
  const to = section.headers.get('to')?.[0];
  return {
    vias,
    from: section.headers.get('from')?.[0],
    to,
    toHasTag: to !== undefined && TO_TAG.test(to),
    callId: section.headers.get('call-id')?.[0],
    cseq,
  };
}

/**
 * Serialise a response: RFC 3261 §8.2.6.2 — Via (all, in order), From,
 * To (with a tag added when absent, except for 100), Call-ID and CSeq copied;
 * then the spec's headers, Server and Content-Length.
 */
export function buildResponse(basis: ResponseBasis, spec: SipResponseSpec, target: ResponseTarget): string {
  let s = `SIP/2.0 ${spec.status} ${oneLine(spec.reason)}\r\n`;
  const vias = basis.vias;
  for (let i = 0; i < vias.length; i++) {
    const via = vias[i]!;
    if (typeof via === 'string') s += `Via: ${via}\r\n`;
    else s += `Via: ${i === 0 ? topViaForResponse(via, target.source) : formatVia(via, via.params)}\r\n`;
  }
  if (basis.from !== undefined) s += `From: ${basis.from}\r\n`;
  if (basis.to !== undefined) {
    // RFC 3261 §8.2.6.2: a UAS adds a To tag to responses other than 100 when the request had none.
    s += basis.toHasTag || spec.status === 100 ? `To: ${basis.to}\r\n` : `To: ${basis.to};tag=${spec.toTag ?? randomTag()}\r\n`;
  }
  if (basis.callId !== undefined) s += `Call-ID: ${basis.callId}\r\n`;
  s += `CSeq: ${basis.cseq}\r\n`;
  for (const [name, value] of spec.headers) {
    // A handler may echo client input; never let it inject header lines.
    if (!HEADER_NAME.test(name)) continue;
    s += `${name}: ${oneLine(value)}\r\n`;
  }
  if (target.serverHeader) s += `Server: ${target.serverHeader}\r\n`;
  const body = spec.body ?? '';
  if (body.length > 0 && spec.contentType) s += `Content-Type: ${oneLine(spec.contentType)}\r\n`;
  s += `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return body.length > 0 ? s + body : s;
}

/**
 * RFC 3261 §18.2.1: add `received` when the sent-by host differs from the
 * packet source. RFC 3581 §4: when the request carried `rport`, fill it with
 * the source port and add `received` even if the host matches.
 */
export function topViaForResponse(via: ViaHeader, source: SipAddress): string {
  let hasRport = false;
  for (const [name] of via.params) if (name === 'rport') hasRport = true;
  const host = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
  const addReceived = hasRport || host.toLowerCase() !== source.address.toLowerCase();
  if (!hasRport && !addReceived) return formatVia(via, via.params);
  const params: Array<[string, string | null]> = [];
  for (const p of via.params) {
    if (p[0] === 'rport') params.push(['rport', String(source.port)]);
    else if (p[0] !== 'received' || !addReceived) params.push(p);
  }
  if (addReceived) params.push(['received', source.address]);
  return formatVia(via, params);
}

function formatVia(via: ViaHeader, params: ReadonlyArray<[string, string | null]>): string {
  let s = `${via.protocol}/${via.transport} ${via.host}`;
  if (via.port !== undefined) s += `:${via.port}`;
  for (const [name, value] of params) s += value === null ? `;${name}` : `;${name}=${value}`;
  return s;
}

function oneLine(value: string): string {
  return value.includes('\r') || value.includes('\n') ? value.replace(/[\r\n]+/g, ' ') : value;
}

// RFC 3261 §19.3: tags need at least 32 bits of randomness (we use 64).
export function randomTag(): string {
  return randomHex(8);
}

/**
 * RFC 3261 §8.2.7: a stateless answer's To tag is the same for every copy
 * of the request, so it comes from the request (its transaction key: the
 * branch, Call-ID and CSeq keep it unique) keyed by this process's own
 * secret, so nobody can compute the tag of another's request. One SHA-256
 * over secret ‖ key, cut to 64 bits: the cut leaves no hash state to extend,
 * and it costs a quarter of an Hmac object (every first REGISTER is answered
 * this way).
 */
const TAG_KEY = crypto.randomBytes(16).toString('hex');
export function statelessToTag(transactionKey: string): string {
  return crypto.hash('sha256', TAG_KEY + transactionKey).slice(0, 16);
}
