import crypto from 'node:crypto';
import { OutboundTimeoutError, OutboundTransportError, type OutboundRequestPort, type OutboundResponse } from '../transactions/outbound-request-port.js';
import { digestAuthorization, pickChallenge } from './digest-answer.js';

export interface TrunkTarget {
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  realm?: string | undefined;
  from_domain?: string | undefined;
  expires: number;
  username: string;
  password: string;
}

export interface RegisterOutcome {
  ok: boolean;
  status: number;
  reason: string;
  /** Granted lifetime (s) on success. */
  expires: number;
  /** Our contact is among the bindings the registrar listed. */
  listed: boolean;
  /** Every binding URI the registrar listed in its 2xx (§10.3 step 8). */
  contacts: string[];
}

/**
 * One trunk's registration dialog-to-be with the carrier (RFC 3261 §10.2):
 * the same Call-ID and From tag for every REGISTER of this process's boot,
 * CSeq increasing by one per request (§10.2.4 — the registrar orders
 * refreshes by it), digest answers to 401/407 (§22.2), 423 answered with the
 * Min-Expires the registrar asks for (§10.2.8).
 */
export class TrunkRegistrationDialog {
  private cseq = 0;
  private readonly callId = `${crypto.randomBytes(12).toString('hex')}@switchboard`;
  private readonly fromTag = crypto.randomBytes(6).toString('hex');
  private nc = 0;

  constructor(
    private readonly port: OutboundRequestPort,
    readonly t: TrunkTarget,
  ) {}

  get aor(): string {
    return `sip:${this.t.username}@${this.t.from_domain ?? this.t.host}`;
  }

  private get registrarUri(): string {
    const host = this.t.host.includes(':') && !this.t.host.startsWith('[') ? `[${this.t.host}]` : this.t.host;
    return `sip:${host}:${this.t.port}${this.t.transport === 'udp' ? '' : `;transport=${this.t.transport}`}`;
  }

  contactUri(): string | null {
    const local = this.port.local(this.t.transport);
    if (!local) return null;
    const host = local.host.includes(':') ? `[${local.host}]` : local.host;
    return `sip:${this.t.username}@${host}:${local.port}${this.t.transport === 'udp' ? '' : `;transport=${this.t.transport}`}`;
  }

  /** Adds or refreshes our binding. */
  register(expires = this.t.expires): Promise<RegisterOutcome> {
    return this.exchange('bind', expires);
  }

  /** Lists the AOR's bindings (§10.2.3) to see whether the carrier still has ours. */
  query(): Promise<RegisterOutcome> {
    return this.exchange('query', 0);
  }

  /**
   * Removes every binding of the AOR: ours and a dead node's. Not with
   * `Contact: *` (§10.2.2), which drachtio-server 0.9.10 crashes on (a NULL
   * dereference in its request path, seen with the project's build), but
   * the way §10.2.2 also allows on every edge: list the bindings (§10.2.3),
   * then name each one, ours always among them, with `expires=0`.
   */
  async unregisterAll(): Promise<RegisterOutcome> {
    const listed = await this.query();
    const ours = this.contactUri();
    const contacts = listed.ok ? listed.contacts : [];
    if (ours && !contacts.some((c) => sameContact(c, ours))) contacts.push(ours);
    return this.exchange('remove', 0, contacts);
  }

  /** Removes the listed bindings other than ours (none: no request). */
  async removeOthers(listed: readonly string[]): Promise<RegisterOutcome | null> {
    const ours = this.contactUri();
    const others = listed.filter((c) => !ours || !sameContact(c, ours));
    return others.length ? this.exchange('remove', 0, others) : null;
  }

  private async exchange(kind: 'bind' | 'query' | 'remove', expires: number, remove: string[] = []): Promise<RegisterOutcome> {
    const contact = this.contactUri();
    if (!contact) return { ok: false, status: 503, reason: `no ${this.t.transport} listener to register from`, expires: 0, listed: false, contacts: [] };
    let authorization: string | undefined;
    let challenged = 0;
    let askExpires = expires;
    for (;;) {
      let res: OutboundResponse;
      try {
        res = await this.send(kind, kind === 'remove' ? remove : [contact], askExpires, authorization);
      } catch (err) {
        if (err instanceof OutboundTimeoutError || err instanceof OutboundTransportError)
          return { ok: false, status: err.status, reason: err.message, expires: 0, listed: false, contacts: [] };
        throw err;
      }
      if ((res.status === 401 || res.status === 407) && challenged < 2) {
        const challenge = pickChallenge(res.section.get(res.status === 401 ? 'www-authenticate' : 'proxy-authenticate') ?? []);
        // A second challenge is answered only when it says our nonce went stale (RFC 7616 §3.3); otherwise the password is wrong.
        if (challenge && (challenged === 0 || challenge.stale) && (!this.t.realm || challenge.realm === this.t.realm)) {
          challenged++;
          const header = res.status === 401 ? 'Authorization' : 'Proxy-Authorization';
          authorization = `${header}: ${digestAuthorization(challenge, this.t.username, this.t.password, 'REGISTER', this.registrarUri, ++this.nc)}`;
          continue;
        }
      }
      if (res.status === 423 && kind === 'bind') {
        const min = Number(res.section.get('min-expires')?.[0]);
        if (Number.isFinite(min) && min > askExpires && min <= 86_400) {
          askExpires = min;
          continue;
        }
      }
      if (res.status < 200 || res.status >= 300) return { ok: false, status: res.status, reason: res.reason, expires: 0, listed: false, contacts: [] };
      return { ok: true, status: res.status, reason: res.reason, ...this.granted(res, contact, askExpires) };
    }
  }

  private granted(res: OutboundResponse, contact: string, asked: number): { expires: number; listed: boolean; contacts: string[] } {
    const values = (res.section.get('contact') ?? []).flatMap((v) => v.split(/,(?=\s*<)/));
    const contacts = values.map((v) => (/<([^>]+)>/.exec(v)?.[1] ?? v.split(';')[0] ?? '').trim()).filter(Boolean);
    const ours = values.find((c) => sameContact(c, contact));
    const param = ours ? /;\s*expires=(\d+)/i.exec(ours.slice(ours.indexOf('>')))?.[1] : undefined;
    const header = res.section.get('expires')?.[0];
    const expires = Number(param ?? header ?? asked);
    return { expires: Number.isFinite(expires) ? expires : asked, listed: Boolean(ours), contacts };
  }

  private send(kind: 'bind' | 'query' | 'remove', contacts: string[], expires: number, authorization: string | undefined): Promise<OutboundResponse> {
    this.cseq += 1;
    const headers = [
      `From: <${this.aor}>;tag=${this.fromTag}`,
      `To: <${this.aor}>`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${this.cseq} REGISTER`,
      'User-Agent: Switchboard',
    ];
    if (kind === 'bind') headers.push(`Contact: <${contacts[0]!}>`, `Expires: ${expires}`);
    if (kind === 'remove') headers.push(`Contact: ${contacts.map((c) => `<${c}>;expires=0`).join(', ')}`, 'Expires: 0');
    if (authorization) headers.push(authorization);
    return this.port.send({
      method: 'REGISTER',
      uri: this.registrarUri,
      target: { host: this.t.host, port: this.t.port, transport: this.t.transport },
      headers,
    });
  }
}

/** Contacts compare by user, host and port of their URI (RFC 3261 §10.3 step 6 compares URIs; parameters aside). */
function sameContact(headerValue: string, ours: string): boolean {
  const uri = (/<([^>]+)>/.exec(headerValue)?.[1] ?? headerValue.split(';')[0] ?? '').trim();
  const key = (u: string) =>
    u
      .replace(/^sips?:/i, '')
      .split(';')[0]!
      .toLowerCase();
  return key(uri) === key(ours);
}
