import crypto from 'node:crypto';
import { authorize, parseChallenge } from './registrar-helpers.js';
import type { SipPhone } from './sip-phone.js';

/** A header's first value in a SIP message text (case-insensitive name). */
export function sipHeader(text: string, name: string): string | undefined {
  const head = text.split('\r\n\r\n')[0]!.split('\r\n');
  const line = head.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(line.indexOf(':') + 1).trim();
}

export function sipBody(text: string): string {
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

export interface SubscribeOptions {
  /** Expires header; omitted when undefined. */
  expires?: number;
  event?: string;
  /** The AOR user subscribed to (Request-URI and To); default the subscriber's own. */
  aorUser?: string;
  /** Send inside the dialog (To tag) even if this subscriber has none yet: a made-up dialog. */
  toTag?: string;
  /** More header lines (Record-Route …). */
  headers?: string[];
}

/**
 * The subscriber side of an RFC 6665 message-summary dialog on a SipPhone's
 * socket: SUBSCRIBE, answer the 401 with digest (method SUBSCRIBE, uri the
 * Request-URI), keep the dialog's To tag for refreshes and unsubscribe.
 * The phone answers the NOTIFYs itself (SipPhone.respond).
 */
export class MwiSubscriber {
  readonly callId = `sub-${crypto.randomBytes(6).toString('hex')}`;
  readonly fromTag = `st${crypto.randomBytes(4).toString('hex')}`;
  /** Our dialog's remote tag (the server's To tag), once a 200 came. */
  toTag: string | undefined;
  private cseq = 0;

  constructor(
    readonly phone: SipPhone,
    readonly user: { username: string; domain: string; password: string },
  ) {}

  text(o: SubscribeOptions & { authorization?: string }): string {
    this.cseq += 1;
    const aor = `sip:${o.aorUser ?? this.user.username}@${this.user.domain}`;
    const toTag = o.toTag ?? this.toTag;
    const p = this.phone;
    return [
      `SUBSCRIBE ${aor} SIP/2.0`,
      `Via: SIP/2.0/${p.transport.toUpperCase()} ${p.address}:${p.port};branch=z9hG4bK-s${crypto.randomBytes(5).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: <sip:${this.user.username}@${this.user.domain}>;tag=${this.fromTag}`,
      `To: <${aor}>${toTag ? `;tag=${toTag}` : ''}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${this.cseq} SUBSCRIBE`,
      `Contact: ${p.ownContact}`,
      `Event: ${o.event ?? 'message-summary'}`,
      'Accept: application/simple-message-summary',
      ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
      ...(o.authorization ? [`Authorization: ${o.authorization}`] : []),
      ...(o.headers ?? []),
      'User-Agent: TestPhone/1.0',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }

  /** SUBSCRIBE (answering a 401 once); resolves with the final response and the first 401 if there was one. */
  async subscribe(o: SubscribeOptions = {}): Promise<{ response: string; challenge?: string }> {
    this.phone.send(this.text(o));
    const first = await this.phone.next();
    if (!first.startsWith('SIP/2.0 401')) return { response: this.keep(first) };
    const line = first.split('\r\n').find((l) => /^www-authenticate:.*algorithm=MD5/i.test(l))!;
    const ch = parseChallenge(line.slice(line.indexOf(':') + 1));
    const uri = `sip:${o.aorUser ?? this.user.username}@${this.user.domain}`;
    this.phone.send(this.text({ ...o, authorization: authorize(ch, this.user.username, this.user.password, uri, 1, { method: 'SUBSCRIBE' }) }));
    return { response: this.keep(await this.phone.next()), challenge: first };
  }

  private keep(response: string): string {
    if (response.startsWith('SIP/2.0 200') && !this.toTag) this.toTag = /;\s*tag=([^;\s]+)/i.exec(sipHeader(response, 'to') ?? '')?.[1];
    return response;
  }
}
