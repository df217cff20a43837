import { basicAuth, carrierGet, carrierPost, CarrierSendError, nextUrl, type CarrierHttpSettings } from './carrier-http.js';
import { toE164, type Carrier, type CarrierNumber, type OutboundSms } from './carrier.js';

export interface PlivoCredentials {
  auth_id: string;
  auth_token: string;
}

interface PlivoNumber {
  number?: string;
  alias?: string | null;
  voice_enabled?: boolean;
  sms_enabled?: boolean;
  mms_enabled?: boolean;
  fax_enabled?: boolean;
}

interface PlivoPage {
  objects?: PlivoNumber[];
  meta?: { next?: string | null; offset?: number; limit?: number; total_count?: number };
}

/**
 * Plivo API v1 (HTTP Basic with Auth ID and Auth Token): GET /v1/Account/{id}/
 * checks the credentials; /v1/Account/{id}/Number/ pages with limit/offset and
 * answers meta.next (a path, null on the last page). Numbers come without "+".
 */
export class PlivoCarrier implements Carrier {
  constructor(
    private readonly baseUrl: string,
    private readonly creds: PlivoCredentials,
    private readonly http: CarrierHttpSettings,
    private readonly pageSize = 20,
  ) {}

  private get(url: string, authStatuses: number[] = []) {
    return carrierGet(
      { url, carrier: 'Plivo', headers: { authorization: basicAuth(this.creds.auth_id, this.creds.auth_token) }, errorMessage: plivoMessage, authStatuses },
      this.http,
    );
  }

  private url(path: string): string {
    return nextUrl(this.baseUrl, `v1/Account/${encodeURIComponent(this.creds.auth_id)}/${path}`, 'Plivo');
  }

  async verify(): Promise<void> {
    await this.get(this.url(''), [404]);
  }

  async *numbers(): AsyncGenerator<CarrierNumber[]> {
    let url: string | null = this.url(`Number/?limit=${this.pageSize}&offset=0`);
    while (url) {
      const page = (await this.get(url)) as PlivoPage;
      yield (page.objects ?? []).flatMap((n) => {
        const e164 = n.number ? toE164(n.number) : null;
        if (!e164) return [];
        return [
          {
            e164,
            label: n.alias || null,
            voice: Boolean(n.voice_enabled),
            sms: Boolean(n.sms_enabled),
            mms: Boolean(n.mms_enabled),
            fax: Boolean(n.fax_enabled),
          },
        ];
      });
      url = page.meta?.next ? nextUrl(this.baseUrl, page.meta.next, 'Plivo') : null;
    }
  }

  /** POST /v1/Account/{id}/Message/ {src, dst, text, url, method} answers 202 with message_uuid: [id]. Plivo numbers go without "+". */
  async sendSms(sms: OutboundSms): Promise<{ providerMessageId: string }> {
    const body = (await carrierPost(
      {
        url: this.url('Message/'),
        carrier: 'Plivo',
        headers: { authorization: basicAuth(this.creds.auth_id, this.creds.auth_token) },
        json: { src: sms.from.replace(/^\+/, ''), dst: sms.to.replace(/^\+/, ''), text: sms.body, url: sms.statusCallbackUrl, method: 'POST' },
        errorMessage: plivoMessage,
      },
      this.http,
    )) as { message_uuid?: unknown };
    const id: unknown = Array.isArray(body.message_uuid) ? (body.message_uuid as unknown[])[0] : undefined;
    if (typeof id !== 'string' || !id) throw new CarrierSendError('failed', 'Plivo answered without message_uuid');
    return { providerMessageId: id };
  }
}

function plivoMessage(body: unknown): string | null {
  const b = body as { error?: unknown } | undefined;
  if (b && typeof b === 'object' && b.error) return typeof b.error === 'string' ? b.error : JSON.stringify(b.error);
  return typeof body === 'string' && body ? body : null;
}
