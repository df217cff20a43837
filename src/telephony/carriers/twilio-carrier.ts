import { basicAuth, carrierGet, carrierPost, CarrierSendError, nextUrl, type CarrierHttpSettings } from './carrier-http.js';
import { toE164, type Carrier, type CarrierNumber, type OutboundSms } from './carrier.js';

export interface TwilioCredentials {
  account_sid: string;
  auth_token: string;
}

interface TwilioNumber {
  phone_number?: string;
  friendly_name?: string | null;
  capabilities?: Record<string, boolean | undefined>;
}

interface TwilioPage {
  incoming_phone_numbers?: TwilioNumber[];
  next_page_uri?: string | null;
}

/**
 * Twilio REST API 2010-04-01: GET /Accounts/{Sid}.json checks the credentials
 * (HTTP Basic with the Account SID and auth token); IncomingPhoneNumbers.json
 * pages with next_page_uri (null on the last page), a path relative to the API host.
 */
export class TwilioCarrier implements Carrier {
  constructor(
    private readonly baseUrl: string,
    private readonly creds: TwilioCredentials,
    private readonly http: CarrierHttpSettings,
    private readonly pageSize = 50,
  ) {}

  private get(url: string, authStatuses: number[] = []) {
    return carrierGet(
      {
        url,
        carrier: 'Twilio',
        headers: { authorization: basicAuth(this.creds.account_sid, this.creds.auth_token) },
        errorMessage: twilioMessage,
        authStatuses,
      },
      this.http,
    );
  }

  private url(path: string): string {
    return nextUrl(this.baseUrl, `2010-04-01/Accounts/${encodeURIComponent(this.creds.account_sid)}${path}`, 'Twilio');
  }

  async verify(): Promise<void> {
    // A SID that is not this token's account answers 404: still the credentials' fault.
    await this.get(this.url('.json'), [404]);
  }

  async *numbers(): AsyncGenerator<CarrierNumber[]> {
    let url: string | null = this.url(`/IncomingPhoneNumbers.json?PageSize=${this.pageSize}`);
    while (url) {
      const page = (await this.get(url)) as TwilioPage;
      yield (page.incoming_phone_numbers ?? []).flatMap((n) => {
        const e164 = n.phone_number ? toE164(n.phone_number) : null;
        if (!e164) return [];
        // Older responses spell the keys SMS/MMS; current ones sms/mms.
        const caps = Object.fromEntries(Object.entries(n.capabilities ?? {}).map(([k, v]) => [k.toLowerCase(), Boolean(v)]));
        return [{ e164, label: n.friendly_name ?? null, voice: caps.voice ?? false, sms: caps.sms ?? false, mms: caps.mms ?? false, fax: caps.fax ?? false }];
      });
      url = page.next_page_uri ? nextUrl(this.baseUrl, page.next_page_uri, 'Twilio') : null;
    }
  }

  /** POST /Accounts/{Sid}/Messages.json (form: To, From, Body, StatusCallback) answers 201 with the message's sid. */
  async sendSms(sms: OutboundSms): Promise<{ providerMessageId: string }> {
    const body = (await carrierPost(
      {
        url: this.url('/Messages.json'),
        carrier: 'Twilio',
        headers: { authorization: basicAuth(this.creds.account_sid, this.creds.auth_token) },
        form: { To: sms.to, From: sms.from, Body: sms.body, StatusCallback: sms.statusCallbackUrl },
        errorMessage: twilioMessage,
        errorCode: (b) => {
          const c = (b as { code?: unknown } | undefined)?.code;
          return typeof c === 'number' || typeof c === 'string' ? String(c) : null;
        },
      },
      this.http,
    )) as { sid?: unknown };
    if (typeof body.sid !== 'string' || !body.sid) throw new CarrierSendError('failed', 'Twilio answered without a message sid');
    return { providerMessageId: body.sid };
  }
}

function twilioMessage(body: unknown): string | null {
  const b = body as { message?: unknown; code?: unknown } | undefined;
  if (b && typeof b === 'object' && typeof b.message === 'string')
    return typeof b.code === 'number' || typeof b.code === 'string' ? `${b.message} (${b.code})` : b.message;
  return typeof body === 'string' && body ? body : null;
}
