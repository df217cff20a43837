import crypto from 'node:crypto';
import { toE164 } from '../telephony/carriers/carrier.js';

/**
 * What a carrier's webhook says, in our terms, and whether it really comes
 * from the carrier. Each carrier signs its own way; every check is a
 * constant-time comparison and fails closed (no key, no header: refused).
 */
export type CarrierEvent =
  | { kind: 'message'; providerMessageId: string; from: string; recipients: string[]; body: string }
  | { kind: 'status'; providerMessageId: string; status: 'sent' | 'delivered' | 'failed'; errorCode: string | null }
  | { kind: 'ignored'; reason: string };

export interface SignedRequest {
  /** The URL the carrier called, as it knows it (PUBLIC_URL + path and query). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  raw: Buffer;
  /** Form fields (Twilio, Plivo), repeated keys kept in order. */
  form: Array<[string, string]>;
}

function header(h: SignedRequest['headers'], name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function sortedConcat(form: Array<[string, string]>): string {
  // Sorted by key; a repeated key contributes each value in order (stable sort).
  return [...form]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => k + v)
    .join('');
}

/**
 * Twilio (webhooks security): X-Twilio-Signature = base64(HMAC-SHA1(auth
 * token, full URL + every POST parameter name and value, sorted by name)).
 */
export function twilioSignature(authToken: string, url: string, form: Array<[string, string]>): string {
  return crypto
    .createHmac('sha1', authToken)
    .update(url + sortedConcat(form), 'utf8')
    .digest('base64');
}

export function verifyTwilio(req: SignedRequest, authToken: string): boolean {
  const got = header(req.headers, 'x-twilio-signature');
  return Boolean(got && authToken) && sameText(twilioSignature(authToken, req.url, req.form), got!);
}

/**
 * Plivo signature V3: base64(HMAC-SHA256(auth token, URL-part + "." + nonce)),
 * where for a POST the URL-part is the URL without its query, "?", the
 * query's parameters sorted by name as name=value joined by "&" and a "."
 * (only when the URL has a query), then every form parameter name and value
 * sorted by name. X-Plivo-Signature-V3 may list several signatures,
 * comma-separated (key rotation); one match is enough.
 */
export function plivoSignatureV3(authToken: string, url: string, form: Array<[string, string]>, nonce: string): string {
  const [base, query = ''] = url.split('#')[0]!.split('?', 2) as [string, string?];
  const q = query
    ? [...new URLSearchParams(query)]
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join('&') + '.'
    : '';
  const payload = query || form.length ? `${base}?${q}${sortedConcat(form)}.${nonce}` : `${base}.${nonce}`;
  return crypto.createHmac('sha256', authToken).update(payload, 'utf8').digest('base64');
}

export function verifyPlivo(req: SignedRequest, authToken: string): boolean {
  const got = header(req.headers, 'x-plivo-signature-v3') ?? header(req.headers, 'x-plivo-signature-ma-v3');
  const nonce = header(req.headers, 'x-plivo-signature-v3-nonce');
  if (!got || !nonce || !authToken) return false;
  const want = plivoSignatureV3(authToken, req.url, req.form, nonce);
  return got.split(',').some((c) => sameText(want, c.trim()));
}

/** Telnyx signs webhooks with Ed25519 over "timestamp|raw body"; its public key is shown base64 (32 raw bytes) in the portal. */
export function telnyxPublicKey(base64: string): crypto.KeyObject | null {
  try {
    const raw = Buffer.from(base64, 'base64');
    if (raw.length !== 32) return null;
    return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch {
    return null;
  }
}

/** Telnyx: telnyx-signature-ed25519 (base64) over `${telnyx-timestamp}|${body}`; a timestamp more than `toleranceSeconds` off is a replay. */
export function verifyTelnyx(req: SignedRequest, publicKeyBase64: string | null | undefined, nowMs: number, toleranceSeconds = 300): boolean {
  const sig = header(req.headers, 'telnyx-signature-ed25519');
  const ts = header(req.headers, 'telnyx-timestamp');
  const key = publicKeyBase64 ? telnyxPublicKey(publicKeyBase64) : null;
  if (!sig || !ts || !key || !/^\d{1,12}$/.test(ts)) return false;
  if (Math.abs(nowMs / 1000 - Number(ts)) > toleranceSeconds) return false;
  const signature = Buffer.from(sig, 'base64');
  if (signature.length !== 64) return false;
  try {
    return crypto.verify(null, Buffer.concat([Buffer.from(`${ts}|`, 'utf8'), req.raw]), key, signature);
  } catch {
    return false;
  }
}

const first = (form: Array<[string, string]>, name: string): string | undefined => form.find(([k]) => k === name)?.[1];

/** Twilio: inbound SMS (MessageSid, From, To, Body) and status callbacks (MessageStatus). */
export function parseTwilio(form: Array<[string, string]>, status: boolean): CarrierEvent {
  const sid = first(form, 'MessageSid') ?? first(form, 'SmsSid');
  if (!sid) return { kind: 'ignored', reason: 'no MessageSid' };
  if (status) {
    const s = first(form, 'MessageStatus') ?? first(form, 'SmsStatus') ?? '';
    const mapped = s === 'delivered' ? 'delivered' : s === 'undelivered' || s === 'failed' ? 'failed' : s === 'sent' ? 'sent' : null;
    if (!mapped) return { kind: 'ignored', reason: `status ${s}` };
    return { kind: 'status', providerMessageId: sid, status: mapped, errorCode: first(form, 'ErrorCode') ?? null };
  }
  const from = toE164(first(form, 'From') ?? '');
  const to = toE164(first(form, 'To') ?? '');
  if (!from || !to) return { kind: 'ignored', reason: 'From or To is not a phone number' };
  return { kind: 'message', providerMessageId: sid, from, recipients: [to], body: first(form, 'Body') ?? '' };
}

/** Plivo: inbound (From, To, Text, MessageUUID) and message status callbacks (Status). Plivo writes numbers without "+". */
export function parsePlivo(form: Array<[string, string]>, status: boolean): CarrierEvent {
  const id = first(form, 'MessageUUID');
  if (!id) return { kind: 'ignored', reason: 'no MessageUUID' };
  if (status) {
    const s = first(form, 'Status') ?? '';
    const mapped = s === 'delivered' ? 'delivered' : ['undelivered', 'failed', 'rejected'].includes(s) ? 'failed' : s === 'sent' ? 'sent' : null;
    if (!mapped) return { kind: 'ignored', reason: `status ${s}` };
    return { kind: 'status', providerMessageId: id, status: mapped, errorCode: first(form, 'ErrorCode') ?? null };
  }
  const from = toE164(first(form, 'From') ?? '');
  // Plivo lists several destinations separated by "<" on group sends.
  const recipients = (first(form, 'To') ?? '')
    .split('<')
    .map((t) => toE164(t))
    .filter((t): t is string => Boolean(t));
  if (!from || !recipients.length) return { kind: 'ignored', reason: 'From or To is not a phone number' };
  return { kind: 'message', providerMessageId: id, from, recipients, body: first(form, 'Text') ?? '' };
}

interface TelnyxWebhook {
  data?: {
    event_type?: string;
    payload?: {
      id?: string;
      text?: string;
      from?: { phone_number?: string };
      to?: Array<{ phone_number?: string; status?: string }>;
      cc?: Array<{ phone_number?: string }>;
      errors?: Array<{ code?: string }>;
    };
  };
}

/** Telnyx (API v2 webhooks): message.received; message.sent / message.finalized carry the delivery status per recipient. */
export function parseTelnyx(json: unknown): CarrierEvent {
  const d = (json as TelnyxWebhook | undefined)?.data;
  const p = d?.payload;
  if (!d || !p?.id) return { kind: 'ignored', reason: 'no data.payload.id' };
  if (d.event_type === 'message.received') {
    const from = toE164(p.from?.phone_number ?? '');
    // A group MMS names every member in `to` (and `cc`): all of them are recipients.
    const recipients = [...(p.to ?? []), ...(p.cc ?? [])].map((t) => toE164(t.phone_number ?? '')).filter((t): t is string => Boolean(t));
    if (!from || !recipients.length) return { kind: 'ignored', reason: 'from or to is not a phone number' };
    return { kind: 'message', providerMessageId: p.id, from, recipients, body: p.text ?? '' };
  }
  if (d.event_type === 'message.sent' || d.event_type === 'message.finalized') {
    const s = p.to?.[0]?.status ?? '';
    const mapped = s === 'delivered' ? 'delivered' : ['delivery_failed', 'sending_failed', 'failed'].includes(s) ? 'failed' : s === 'sent' ? 'sent' : null;
    if (!mapped) return { kind: 'ignored', reason: `status ${s}` };
    return { kind: 'status', providerMessageId: p.id, status: mapped, errorCode: p.errors?.[0]?.code ?? null };
  }
  return { kind: 'ignored', reason: `event ${d.event_type ?? 'none'}` };
}
