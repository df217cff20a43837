import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { authorize, md5Challenge, registerText } from './registrar-helpers.js';

export interface PhoneRegister {
  user: string;
  domain: string;
  password: string;
  authUser?: string;
  /** Default: this phone's own address. */
  contact?: string;
  expires?: number;
  headers?: string[];
  userAgent?: string;
  /** CSeq of the first REGISTER sent (the answer to the challenge takes the next); default: carry on from the last. */
  cseq?: number;
  /** The digest `uri`; default: the Request-URI, sip:<domain>. */
  digestUri?: string;
}

/**
 * A SIP phone on a real socket (UDP or TCP) on 127.0.0.1: registers with
 * digest (answering the 401 as a phone does), and answers OPTIONS with 200
 * while `answering` is true — or stays silent, like a phone that is gone.
 */
export class SipPhone {
  answering = true;
  optionsReceived = 0;
  /** Requests other than OPTIONS (NOTIFY, MESSAGE …), in arrival order, retransmissions included. */
  readonly requests: string[] = [];
  /** The last message this phone sent (a test resends it byte for byte as a retransmission). */
  lastSent = '';
  /** The status a request other than OPTIONS gets; null leaves it unanswered (a retransmission asks again). */
  respond: (request: string) => number | null = () => 200;
  readonly callId = `phone-${crypto.randomBytes(6).toString('hex')}`;
  private cseq = 0;
  private readonly responses: string[] = [];
  private waiters: Array<() => void> = [];
  private buffer = '';
  private udp?: dgram.Socket;
  private tcp?: net.Socket;

  private constructor(
    readonly transport: 'udp' | 'tcp',
    private readonly edgePort: number,
    readonly address: string,
  ) {}

  /** `address`: the phone's own loopback address (127.0.0.2 … are other sources to the edge). */
  static async open(transport: 'udp' | 'tcp', edgePort: number, address = '127.0.0.1'): Promise<SipPhone> {
    const p = new SipPhone(transport, edgePort, address);
    if (transport === 'udp') {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, address, r));
      s.on('message', (m) => p.onMessage(m.toString('utf8')));
      p.udp = s;
    } else {
      const s = await new Promise<net.Socket>((resolve, reject) => {
        const c = net.connect({ port: edgePort, host: '127.0.0.1', localAddress: address }, () => resolve(c));
        c.once('error', reject);
      });
      s.setEncoding('utf8');
      s.on('error', () => {});
      s.on('data', (chunk: string) => {
        p.buffer += chunk;
        for (;;) {
          const end = p.buffer.indexOf('\r\n\r\n');
          if (end < 0) break;
          const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(p.buffer.slice(0, end + 2))?.[1] ?? 0);
          if (p.buffer.length < end + 4 + len) break;
          const msg = p.buffer.slice(0, end + 4 + len);
          p.buffer = p.buffer.slice(end + 4 + len);
          p.onMessage(msg);
        }
      });
      p.tcp = s;
    }
    return p;
  }

  get port(): number {
    return this.udp ? this.udp.address().port : (this.tcp!.address() as net.AddressInfo).port;
  }

  get ownContact(): string {
    return `<sip:phone-${this.port}@${this.address}:${this.port};transport=${this.transport}>`;
  }

  /** Sends REGISTER, answers the challenge with MD5, resolves with the final response text. */
  async register(o: PhoneRegister): Promise<string> {
    if (o.cseq !== undefined) this.cseq = o.cseq - 1;
    const send = (authorization?: string) => {
      this.cseq += 1;
      this.send(
        registerText({
          user: o.user,
          domain: o.domain,
          callId: this.callId,
          cseq: this.cseq,
          contacts: [o.contact ?? this.ownContact],
          ...(o.expires !== undefined ? { expires: o.expires } : {}),
          ...(authorization ? { authorization } : {}),
          ...(o.headers ? { headers: o.headers } : {}),
          ...(o.userAgent ? { userAgent: o.userAgent } : {}),
          via: `Via: SIP/2.0/${this.transport.toUpperCase()} ${this.address}:${this.port};branch=z9hG4bK-ph${crypto.randomBytes(5).toString('hex')};rport`,
        }),
      );
    };
    send();
    const first = await this.next();
    if (!first.startsWith('SIP/2.0 401')) return first;
    send(authorize(md5Challenge(first), o.authUser ?? o.user, o.password, o.digestUri ?? `sip:${o.domain}`));
    return this.next();
  }

  /**
   * A MESSAGE from this phone to `uri`; `key` marks its branch and From tag. `authorization` answers the
   * challenge to an earlier one.
   */
  messageText(o: { uri: string; from: string; key: string; callId: string; cseq: number; body: string; contentType?: string; authorization?: string }): string {
    const rport = this.transport === 'udp' ? ';rport' : '';
    return [
      `MESSAGE ${o.uri} SIP/2.0`,
      `Via: SIP/2.0/${this.transport.toUpperCase()} ${this.address}:${this.port};branch=z9hG4bK-${o.key}${crypto.randomBytes(5).toString('hex')}${rport}`,
      'Max-Forwards: 70',
      `From: <${o.from}>;tag=${o.key}${o.cseq}`,
      `To: <${o.uri}>`,
      `Call-ID: ${o.callId}`,
      `CSeq: ${o.cseq} MESSAGE`,
      ...(o.authorization ? [`Authorization: ${o.authorization}`] : []),
      `Content-Type: ${o.contentType ?? 'text/plain;charset=UTF-8'}`,
      `Content-Length: ${Buffer.byteLength(o.body)}`,
      '',
      o.body,
    ].join('\r\n');
  }

  send(text: string): void {
    this.lastSent = text;
    if (this.udp) this.udp.send(text, this.edgePort, '127.0.0.1');
    else this.tcp!.write(text);
  }

  /** The next response (requests are handled, not queued). */
  async next(timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.responses.length) {
      if (Date.now() > deadline) throw new Error('no SIP response');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.responses.shift()!;
  }

  async close(): Promise<void> {
    if (this.udp) this.udp.close();
    // Already closed by the server side (a SIP worker that died): 'close' was emitted and will not come again.
    if (this.tcp && !this.tcp.destroyed) {
      const closed = new Promise((r) => this.tcp!.once('close', r));
      this.tcp.destroy();
      await closed;
    }
  }

  private onMessage(text: string): void {
    if (text.startsWith('SIP/2.0 ')) {
      this.responses.push(text);
      const w = this.waiters;
      this.waiters = [];
      for (const x of w) x();
      return;
    }
    if (!text.startsWith('OPTIONS ')) {
      if (!/^[A-Z]+ /.test(text)) return;
      this.requests.push(text);
      const w = this.waiters;
      this.waiters = [];
      for (const x of w) x();
      const status = this.respond(text);
      if (status !== null) this.answer(text, status);
      return;
    }
    this.optionsReceived += 1;
    if (!this.answering) return;
    this.answer(text, 200);
  }

  /** Resolves with the first request of `method` received after `from` requests, waiting up to timeoutMs. */
  async nextRequest(method: string, from = 0, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.requests.slice(from).find((r) => r.startsWith(`${method} `));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${method} received`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  private answer(text: string, status: number): void {
    // RFC 3261 §8.2.6.2: the response copies Via, From, Call-ID and CSeq, and To (with a tag).
    const head = text.split('\r\n\r\n')[0]!.split('\r\n').slice(1);
    const copy = head.filter((l) => /^(via|v|from|f|call-id|i|cseq)\s*:/i.test(l));
    const to = head.find((l) => /^(to|t)\s*:/i.test(l)) ?? 'To: <sip:x@invalid>';
    const reason = status === 200 ? 'OK' : status === 481 ? 'Call/Transaction Does Not Exist' : 'Other';
    this.send(
      [
        `SIP/2.0 ${status} ${reason}`,
        ...copy,
        /;\s*tag=/i.test(to) ? to : `${to};tag=ph${this.port}`,
        'Allow: INVITE, ACK, BYE, CANCEL, OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
  }
}
