import { carrierGet, carrierPost, CarrierSendError, nextUrl, type CarrierHttpSettings } from './carrier-http.js';
import { toE164, type Carrier, type CarrierNumber, type OutboundSms } from './carrier.js';

export interface TelnyxCredentials {
  api_key: string;
}

interface TelnyxNumber {
  phone_number?: string;
  tags?: string[];
  customer_reference?: string | null;
  connection_id?: string | null;
  messaging_profile_id?: string | null;
  t38_fax_gateway_enabled?: boolean;
}

interface TelnyxPage {
  data?: TelnyxNumber[];
  meta?: { page_number?: number; total_pages?: number };
}

/**
 * Telnyx API v2 (Bearer API key): GET /v2/balance is the cheapest authenticated
 * read; /v2/phone_numbers pages with page[number]/page[size] and answers
 * meta.page_number and meta.total_pages. Telnyx lists no capability flags on a
 * number: voice is every number, SMS/MMS a number with a messaging profile,
 * fax one with the T.38 fax gateway on.
 */
export class TelnyxCarrier implements Carrier {
  constructor(
    private readonly baseUrl: string,
    private readonly creds: TelnyxCredentials,
    private readonly http: CarrierHttpSettings,
    private readonly pageSize = 250,
  ) {}

  private get(path: string) {
    return carrierGet(
      {
        url: nextUrl(this.baseUrl, path, 'Telnyx'),
        carrier: 'Telnyx',
        headers: { authorization: `Bearer ${this.creds.api_key}` },
        errorMessage: telnyxMessage,
      },
      this.http,
    );
  }

  async verify(): Promise<void> {
    await this.get('v2/balance');
  }

  async *numbers(): AsyncGenerator<CarrierNumber[]> {
    for (let pageNumber = 1; ; pageNumber++) {
      const page = (await this.get(`v2/phone_numbers?page[number]=${pageNumber}&page[size]=${this.pageSize}`)) as TelnyxPage;
      yield (page.data ?? []).flatMap((n) => {
        const e164 = n.phone_number ? toE164(n.phone_number) : null;
        if (!e164) return [];
        const messaging = Boolean(n.messaging_profile_id);
        return [
          { e164, label: n.customer_reference || n.tags?.[0] || null, voice: true, sms: messaging, mms: messaging, fax: Boolean(n.t38_fax_gateway_enabled) },
        ];
      });
      const total = page.meta?.total_pages ?? 1;
      if (pageNumber >= total || !page.data?.length) return;
    }
  }

  /** POST /v2/messages {from, to, text, webhook_url} answers 200 with data.id. */
  async sendSms(sms: OutboundSms): Promise<{ providerMessageId: string }> {
    const body = (await carrierPost(
      {
        url: nextUrl(this.baseUrl, 'v2/messages', 'Telnyx'),
        carrier: 'Telnyx',
        headers: { authorization: `Bearer ${this.creds.api_key}` },
        json: { from: sms.from, to: sms.to, text: sms.body, webhook_url: sms.statusCallbackUrl },
        errorMessage: telnyxMessage,
        errorCode: (b) => (b as { errors?: Array<{ code?: string }> } | undefined)?.errors?.[0]?.code ?? null,
      },
      this.http,
    )) as { data?: { id?: unknown } };
    const id = body.data?.id;
    if (typeof id !== 'string' || !id) throw new CarrierSendError('failed', 'Telnyx answered without data.id');
    return { providerMessageId: id };
  }
}

function telnyxMessage(body: unknown): string | null {
  const first = (body as { errors?: Array<{ title?: string; detail?: string; code?: string }> } | undefined)?.errors?.[0];
  if (first) return [first.title, first.detail].filter(Boolean).join(': ') + (first.code ? ` (${first.code})` : '');
  return typeof body === 'string' && body ? body : null;
}
